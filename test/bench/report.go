package main

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/out-websocket/out_websocket/encoder"
)

// Targets of the benchmark issue.
const (
	targetMsgpackRatio = 0.80 // msgpack records/s over the ceiling's, at least
	targetJSONLinesCPU = 0.70 // json_lines host CPU seconds per million records, at most
	targetRSSGrowth    = 1.20 // peak RSS, long stream over short, at most
)

const (
	mib         = 1 << 20
	notMeasured = "—"
)

// document renders the report as markdown: the context of the run, the
// table, the RSS check and the targets.
func (rep *report) document(cmd string) string {
	var b strings.Builder
	in, cfg := rep.in, rep.cfg
	perRecord := float64(in.bytes) / float64(in.records)
	fmt.Fprintf(&b, "# out_websocket end-to-end benchmark\n\n")
	fmt.Fprintf(&b, "- date: %s\n", time.Now().UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(&b, "- machine: nproc %d, %s, %s/%s\n", runtime.NumCPU(), cpuModel(), runtime.GOOS, runtime.GOARCH)
	fmt.Fprintf(&b, "- load average (1, 5, 15 min) before: %s; after: %s\n", rep.loadBefore, loadAverage())
	fmt.Fprintf(&b, "- plugin: %s\n", rep.pluginInfo)
	fmt.Fprintf(&b, "- command: `%s`\n", cmd)
	fmt.Fprintf(&b, "- input: %d chunks of at most %.1f MB (%d records, %.0f bytes of msgpack each, chunktest.SampleChunk seeds 1..%d) "+
		"in one flbhost -I file, sent %d times per row: %.0f MB, %d records; %d runs per row, the median reported; the whole run took %s\n\n",
		len(in.chunks), float64(cfg.chunkSize)/1e6, in.records, perRecord, len(in.chunks),
		rep.rows[0].bytes/in.bytes, float64(rep.rows[0].bytes)/1e6, rep.rows[0].records, cfg.runs, rep.took.Round(time.Second))

	if load, err := strconv.ParseFloat(strings.Fields(rep.loadBefore + " x")[0], 64); err == nil && load > float64(runtime.NumCPU())/2 {
		fmt.Fprintf(&b, "**The machine was busy** (load average %.2f at the start, %d CPUs): records/s and the ratios "+
			"to the ceiling are unreliable; CPU per record suffers less.\n\n", load, runtime.NumCPU())
	}
	b.WriteString("| Workers | output | records/s | MB/s | of ceiling | host CPU s/M records | beyond out_null | peak RSS MiB |\n")
	b.WriteString("|---:|---|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range rep.rows {
		switch r.kind {
		case ceilingRow:
			fmt.Fprintf(&b, "| %d | ceiling: gorilla client, %d conn | %s | %.1f | 100%% | %s | %s | %s |\n", r.workers,
				max(1, r.workers), thousands(r.recordsPerSec()), r.mbPerSec(), notMeasured, notMeasured, notMeasured)
		case nullRow:
			fmt.Fprintf(&b, "| %d | out_null equivalent (probe.so) | %s | %s | %s | %.2f | %s | %.1f |\n", r.workers,
				notMeasured, notMeasured, notMeasured, r.cpuPerM(), notMeasured, float64(r.maxRSS)/mib)
		case pluginRow:
			fmt.Fprintf(&b, "| %d | %v | %s | %.1f | %.0f%% | %.2f | %.2f | %.1f |\n", r.workers, r.format,
				thousands(r.recordsPerSec()), r.mbPerSec(), 100*r.ofCeiling,
				r.cpuPerM(), r.cpuPerM()-rep.nullOf(r.workers).cpuPerM(), float64(r.maxRSS)/mib)
		}
	}

	if len(rep.rss) > 0 {
		fmt.Fprintf(&b, "\nPeak RSS of the host, %d MB vs %d MB stream (the same chunk file, -n %d vs -n %d):\n\n",
			cfg.rssMB[0], cfg.rssMB[1], rep.rss[0].short.bytes/in.bytes, rep.rss[0].long.bytes/in.bytes)
		for _, c := range rep.rss {
			fmt.Fprintf(&b, "- Workers %d, %v: %.1f → %.1f MiB (×%.2f); in the long run, by a quarter, half, three quarters of its time:",
				c.workers, c.format, float64(c.short.maxRSS)/mib, float64(c.long.maxRSS)/mib, c.growth())
			for q := 1; q <= 3; q++ {
				fmt.Fprintf(&b, " %.1f", float64(c.long.hwm.at(c.long.wall*time.Duration(q)/4))/mib)
			}
			b.WriteString(" MiB\n")
		}
	}

	b.WriteString("\nTargets:\n\n")
	for _, r := range rep.rows {
		if r.kind == pluginRow && r.format == encoder.Msgpack {
			ratio := r.ofCeiling
			fmt.Fprintf(&b, "- msgpack at ≥ %.0f%% of the ceiling, Workers %d: %.0f%%, %s\n", 100*targetMsgpackRatio,
				r.workers, 100*ratio, verdict(ratio >= targetMsgpackRatio, fmt.Sprintf("%.0f points", 100*(targetMsgpackRatio-ratio))))
		}
	}
	for _, r := range rep.rows {
		if r.kind == pluginRow && r.format == encoder.JSONLines {
			cpu := r.cpuPerM()
			fmt.Fprintf(&b, "- json_lines at ≤ %.2f s host CPU per million records, Workers %d: %.2f s (%.2f s beyond out_null), %s\n",
				targetJSONLinesCPU, r.workers, cpu, cpu-rep.nullOf(r.workers).cpuPerM(),
				verdict(cpu <= targetJSONLinesCPU, fmt.Sprintf("%.2f s", cpu-targetJSONLinesCPU)))
		}
	}
	for _, c := range rep.rss {
		g := c.growth()
		fmt.Fprintf(&b, "- peak RSS within %.0f%% from %d MB to %d MB, Workers %d, %v: %+.0f%%, %s\n", 100*(targetRSSGrowth-1),
			cfg.rssMB[0], cfg.rssMB[1], c.workers, c.format, 100*(g-1),
			verdict(g <= targetRSSGrowth, fmt.Sprintf("%.0f points", 100*(g-targetRSSGrowth))))
	}

	fmt.Fprintf(&b, "\nHow: flbhost loads the plugin and sends the chunk file to a WebSocket server on 127.0.0.1 in the benchmark's "+
		"process (gorilla/websocket), which counts the records of every message (msgpack: encoder.Decoder; json: array elements; "+
		"json_stream: top-level objects; json_lines, gelf: lines) and fails the run unless it counted exactly the records sent. "+
		"records/s and MB/s (msgpack input, 1 MB = 10^6 bytes) run from the server's first handshake to its last message; "+
		"\"of ceiling\" is the median, over the runs, of the ratio to a ceiling run made just before. "+
		"The ceiling writes the same msgpack chunks as BINARY messages in 64 KiB frames, the plugin's, from a plain gorilla "+
		"client in the benchmark's process, one connection per worker. Host CPU is user+sys from the host process's rusage; "+
		"peak RSS is its VmHWM (ru_maxrss would include the benchmark's own RSS, which Linux passes on through fork and exec). "+
		"The host copies each chunk into a fresh mapping, which out_null pays too; \"beyond out_null\" "+
		"subtracts what the host costs with probe.so, a C output that returns FLB_OK at once. gelf runs with "+
		"gelf_short_message_key=msg; every other option is the plugin's default (json_escape_unicode on).\n")
	return b.String()
}

// growth is the long stream's peak RSS over the short one's.
func (c rssCheck) growth() float64 { return float64(c.long.maxRSS) / float64(c.short.maxRSS) }

// nullOf returns the out_null row measured for workers.
func (rep *report) nullOf(workers int) result { return rep.find(nullRow, workers) }

func (rep *report) find(kind rowKind, workers int) result {
	for _, r := range rep.rows {
		if r.kind == kind && r.workers == workers {
			return r
		}
	}
	panic(fmt.Sprintf("no row of kind %d for Workers %d", kind, workers))
}

// verdict says whether a target was met, and by how much it was missed.
func verdict(met bool, miss string) string {
	if met {
		return "met"
	}
	return "**missed** by " + miss
}

// thousands formats a rate as an integer with thin separators.
func thousands(v float64) string {
	s := fmt.Sprintf("%.0f", v)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// cpuModel is the first "model name" of /proc/cpuinfo.
func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}

// loadAverage is the first three fields of /proc/loadavg: other work on
// the machine skews every figure, and this shows how much there was.
func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(data)); err == nil && len(f) >= 3 {
		return strings.Join(f[:3], " ")
	}
	return "unknown"
}
