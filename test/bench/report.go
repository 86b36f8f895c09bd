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

// Targets of the benchmark and cost issues.
const (
	targetMsgpackRatio   = 0.80 // msgpack records/s over the bare client's, at least
	targetJSONLinesCPU   = 0.70 // json_lines host CPU seconds per million records, at most
	targetRSSGrowth      = 1.20 // peak RSS, long stream over short, at most
	targetMsgpackBareCPU = 1.5  // msgpack CPU beyond out_null over the bare client's, at most
	targetJSONLinesBare  = 3.0  // json_lines CPU beyond out_null over the bare client's, at most
	targetRSSWorkers0MiB = 8    // json_lines peak RSS beyond out_null, Workers 0, at most
	targetRSSWorkersNMiB = 12   // the same with Workers 2
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
			"to the bare client are unreliable; CPU per record suffers less.\n\n", load, runtime.NumCPU())
	}
	b.WriteString("| Workers | output | records/s | MB/s | of bare client | CPU s/M records | beyond out_null | × bare client CPU | peak RSS MiB | beyond out_null |\n")
	b.WriteString("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range rep.rows {
		switch r.kind {
		case bareRow:
			fmt.Fprintf(&b, "| %d | bare gorilla client, %v bytes, %d conn | %s | %.1f | 100%% | %.2f | %s | %s | %s | %s |\n", r.workers,
				r.format, max(1, r.workers), thousands(r.recordsPerSec()), r.mbPerSec(), r.cpuPerM(),
				notMeasured, notMeasured, notMeasured, notMeasured)
		case nullRow:
			fmt.Fprintf(&b, "| %d | out_null equivalent (probe.so) | %s | %s | %s | %.2f | %s | %s | %.1f | %s |\n", r.workers,
				notMeasured, notMeasured, notMeasured, r.cpuPerM(), notMeasured, notMeasured, float64(r.maxRSS)/mib, notMeasured)
		case pluginRow:
			fmt.Fprintf(&b, "| %d | %v | %s | %.1f | %.0f%% | %.2f | %.2f | %.2f | %.1f | %.1f |\n", r.workers, r.format,
				thousands(r.recordsPerSec()), r.mbPerSec(), 100*r.ofBare,
				r.cpuPerM(), rep.beyondNull(r), r.bareCPU, float64(r.maxRSS)/mib, rep.rssBeyondNull(r))
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
		if r.kind != pluginRow {
			continue
		}
		switch r.format {
		case encoder.Msgpack:
			x := r.bareCPU
			fmt.Fprintf(&b, "- msgpack CPU beyond out_null at ≤ %.1f× the bare client's, Workers %d: %.2f×, %s\n",
				targetMsgpackBareCPU, r.workers, x, verdict(x <= targetMsgpackBareCPU, fmt.Sprintf("%.2f×", x-targetMsgpackBareCPU)))
		case encoder.JSONLines:
			x := r.bareCPU
			fmt.Fprintf(&b, "- json_lines CPU beyond out_null at ≤ %.1f× the bare client's, Workers %d: %.2f×, %s\n",
				targetJSONLinesBare, r.workers, x, verdict(x <= targetJSONLinesBare, fmt.Sprintf("%.2f×", x-targetJSONLinesBare)))
			limit := float64(targetRSSWorkers0MiB)
			if r.workers > 0 {
				limit = targetRSSWorkersNMiB
			}
			m := rep.rssBeyondNull(r)
			fmt.Fprintf(&b, "- json_lines peak RSS beyond out_null at ≤ %.0f MiB, Workers %d: %.1f MiB, %s\n",
				limit, r.workers, m, verdict(m <= limit, fmt.Sprintf("%.1f MiB", m-limit)))
		}
	}
	for _, r := range rep.rows {
		if r.kind == pluginRow && r.format == encoder.Msgpack {
			ratio := r.ofBare
			fmt.Fprintf(&b, "- msgpack records/s at ≥ %.0f%% of the bare client's, Workers %d: %.0f%%, %s\n", 100*targetMsgpackRatio,
				r.workers, 100*ratio, verdict(ratio >= targetMsgpackRatio, fmt.Sprintf("%.0f points", 100*(targetMsgpackRatio-ratio))))
		}
	}
	for _, r := range rep.rows {
		if r.kind == pluginRow && r.format == encoder.JSONLines {
			cpu := r.cpuPerM()
			fmt.Fprintf(&b, "- json_lines at ≤ %.2f s host CPU per million records, Workers %d: %.2f s (%.2f s beyond out_null), %s\n",
				targetJSONLinesCPU, r.workers, cpu, rep.beyondNull(r),
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
		"\"of bare client\" is the median, over the runs, of the ratio to a bare client run made just before. "+
		"The bare client is a plain gorilla/websocket client in a process of its own that sends the bytes the plugin sends "+
		"in that format (encoded beforehand by the plugin's encoder, not measured), as the same messages in the same 64 KiB "+
		"frames, one connection per worker, each chunk followed by a ping and the wait for its pong (confirm_delivery); its "+
		"CPU is its process's user+sys while sending. \"× bare client CPU\" is the median, over the runs, of a plugin run's CPU "+
		"beyond the out_null run of its round over the bare client run just before it: pairing cancels the machine's changes of pace. "+
		"Each row's other figures are of its run of median CPU per record. Host CPU is user+sys from the host process's rusage; "+
		"peak RSS is its VmHWM (ru_maxrss would include the benchmark's own RSS, which Linux passes on through fork and exec). "+
		"The host copies each chunk into a fresh mapping, which out_null pays too; \"beyond out_null\" "+
		"subtracts what the host costs with probe.so, a C output that returns FLB_OK at once. gelf runs with "+
		"gelf_short_message_key=msg; every other option is the plugin's default (json_escape_unicode on).\n")
	return b.String()
}

// beyondNull is a plugin row's CPU per million records beyond out_null's.
func (rep *report) beyondNull(r result) float64 { return r.cpuPerM() - rep.nullOf(r.workers).cpuPerM() }

// rssBeyondNull is a plugin row's peak RSS beyond out_null's, in MiB.
func (rep *report) rssBeyondNull(r result) float64 {
	return float64(r.maxRSS-rep.nullOf(r.workers).maxRSS) / mib
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
