package main

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"debug/buildinfo"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/out-websocket/out_websocket/encoder"
)

// rowKind tells the table's rows apart.
type rowKind int

const (
	bareRow   rowKind = iota // a bare gorilla client sending the plugin's bytes, no host
	nullRow                  // the host with probe.so, a no-op output
	pluginRow                // the host with the plugin
)

// result is one measured run.
type result struct {
	kind    rowKind
	workers int
	format  encoder.Format // bareRow and pluginRow
	records int64          // counted by the server (sent, for nullRow)
	bytes   int64          // msgpack input
	elapsed time.Duration  // the server's first handshake to its last message; host wall time for nullRow
	cpu     time.Duration  // user+sys of the host; for bareRow, of the client's sending
	sys     time.Duration  // of which sys
	ownCPU  time.Duration  // of this process meanwhile: the server (pluginRow)
	// ofBare is records/s over that of the bare client run just before
	// (pluginRow); in a table row, the median of its runs' ratios.
	ofBare float64
	// bareCPU is CPU per record beyond that of the out_null run of the
	// same round, over that of the bare client run just before (pluginRow):
	// pairing runs cancels the machine's changes of pace; in a table row,
	// the median of its runs' ratios.
	bareCPU float64
	maxRSS  int64         // bytes, of the host; 0 for bareRow
	hwm     hwmTrace      // how the host reached maxRSS
	wall    time.Duration // the host's run time
}

func (r result) recordsPerSec() float64 { return float64(r.records) / r.elapsed.Seconds() }
func (r result) mbPerSec() float64      { return float64(r.bytes) / 1e6 / r.elapsed.Seconds() }
func (r result) cpuPerM() float64       { return r.cpu.Seconds() * 1e6 / float64(r.records) }

// rssCheck is the host's peak RSS for a short and a long stream.
type rssCheck struct {
	workers     int
	format      encoder.Format
	short, long result
}

// report is everything one benchmark run measured.
type report struct {
	cfg        config
	in         *stream
	pluginInfo string // which plugin was measured
	loadBefore string // load average when the run started
	rows       []result
	rss        []rssCheck
	took       time.Duration
}

// bench runs the measurements of one report.
type bench struct {
	cfg    config
	in     *stream
	plugin string // private copy of cfg.plugin
	output string // the name it registers
	probe  string // the out_null equivalent
	log    io.Writer
}

// run measures everything cfg asks for, logging progress to log. Any run
// where the server did not count exactly the records sent is an error.
func run(ctx context.Context, cfg config, log io.Writer) (*report, error) {
	start, load := time.Now(), loadAverage()
	dir, err := os.MkdirTemp("", "out_websocket-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)

	b := &bench{cfg: cfg, log: log, probe: filepath.Join(filepath.Dir(cfg.host), "probe.so")}
	if _, err := os.Stat(b.probe); err != nil {
		return nil, fmt.Errorf("the out_null equivalent: %w (make host builds it)", err)
	}
	so, err := os.ReadFile(cfg.plugin)
	if err != nil {
		return nil, err
	}
	b.plugin = filepath.Join(dir, "out_websocket.so")
	if err := os.WriteFile(b.plugin, so, 0o755); err != nil {
		return nil, err
	}
	if b.output, err = pluginName(ctx, cfg.host, b.plugin); err != nil {
		return nil, err
	}
	if b.in, err = makeStream(cfg.chunks, cfg.chunkSize, filepath.Join(dir, "chunks.bin")); err != nil {
		return nil, err
	}
	rep := &report{cfg: cfg, in: b.in, pluginInfo: describePlugin(ctx, cfg.plugin, so), loadBefore: load}

	repeat := b.repeat(cfg.streamMB)
	for _, w := range cfg.workers {
		// The runs of all rows alternate, and each plugin run follows a
		// bare client run of its own, so that a busy moment of the machine
		// neither lands on a single row nor skews a ratio.
		var nulls []result
		bares := make([][]result, len(cfg.formats))
		plugs := make([][]result, len(cfg.formats))
		for i := range cfg.runs {
			b.logf("Workers %d, run %d of %d", w, i+1, cfg.runs)
			r, err := b.null(ctx, w, repeat)
			if err != nil {
				return nil, fmt.Errorf("out_null, Workers %d: %w", w, err)
			}
			nulls = append(nulls, r)
			for j, f := range cfg.formats {
				c, err := b.bare(ctx, f, w, repeat)
				if err != nil {
					return nil, fmt.Errorf("bare client, %v, Workers %d: %w", f, w, err)
				}
				bares[j] = append(bares[j], c)
				if r, err = b.plugged(ctx, f, w, repeat); err != nil {
					return nil, fmt.Errorf("%v, Workers %d: %w", f, w, err)
				}
				r.ofBare = r.recordsPerSec() / c.recordsPerSec()
				r.bareCPU = (r.cpuPerM() - nulls[i].cpuPerM()) / c.cpuPerM()
				plugs[j] = append(plugs[j], r)
			}
		}
		rep.rows = append(rep.rows, median(nulls, result.cpuPerM))
		for j := range cfg.formats {
			r := median(plugs[j], result.cpuPerM)
			r.ofBare = median(plugs[j], func(r result) float64 { return r.ofBare }).ofBare
			r.bareCPU = median(plugs[j], func(r result) float64 { return r.bareCPU }).bareCPU
			rep.rows = append(rep.rows, median(bares[j], result.cpuPerM), r)
		}
	}

	for _, w := range cfg.workers {
		for _, f := range cfg.formats {
			if f != encoder.Msgpack && f != encoder.JSONLines {
				continue
			}
			c := rssCheck{workers: w, format: f}
			b.logf("RSS check, Workers %d, %v", w, f)
			if c.short, err = b.plugged(ctx, f, w, b.repeat(cfg.rssMB[0])); err != nil {
				return nil, fmt.Errorf("RSS check, %v, Workers %d: %w", f, w, err)
			}
			if c.long, err = b.plugged(ctx, f, w, b.repeat(cfg.rssMB[1])); err != nil {
				return nil, fmt.Errorf("RSS check, %v, Workers %d: %w", f, w, err)
			}
			rep.rss = append(rep.rss, c)
		}
	}
	rep.took = time.Since(start)
	return rep, nil
}

// repeat is how many passes over the chunk file make about mb MB.
func (b *bench) repeat(mb int) int {
	return max(1, int((int64(mb)*1e6+b.in.bytes/2)/b.in.bytes))
}

// runTimeout bounds one run of n passes: generous (8 MB/s would be a
// plugin broken beyond measuring), but finite.
func (b *bench) runTimeout(n int) time.Duration {
	return 30*time.Second + time.Duration(b.in.bytes*int64(n)/8e6)*time.Second
}

// bare measures the bare gorilla client sending what the plugin sends in
// format f, one connection per worker.
func (b *bench) bare(ctx context.Context, f encoder.Format, workers, n int) (result, error) {
	srv, err := startServer(f)
	if err != nil {
		return result{}, err
	}
	cpu, err := runBare(ctx, bareJob{
		URL: srv.URL(), File: b.in.file, Format: f.String(), Props: b.props(f),
		Repeat: n, Conns: max(1, workers), Timeout: b.runTimeout(n),
	})
	r, cerr := b.tally(srv, n)
	if err != nil {
		return r, err
	}
	r.kind, r.workers, r.format, r.cpu = bareRow, workers, f, cpu
	b.logf("  bare %-11v %12.0f records/s %6.2f s CPU/M records", f, r.recordsPerSec(), r.cpuPerM())
	return r, cerr
}

// null measures the host with a no-op output: what the host itself costs.
func (b *bench) null(ctx context.Context, workers, n int) (result, error) {
	h := hostRun{
		host: b.cfg.host, plugin: b.probe, output: "probe",
		props: []string{"workers=" + strconv.Itoa(workers)},
		file:  b.in.file, repeat: n, timeout: b.runTimeout(n),
	}
	res, err := h.run(ctx)
	if err != nil {
		return result{}, err
	}
	r := result{
		kind: nullRow, workers: workers,
		records: b.in.records * int64(n), bytes: b.in.bytes * int64(n),
		elapsed: res.wall, cpu: res.cpu, sys: res.sys, maxRSS: res.hwm.at(res.wall), hwm: res.hwm, wall: res.wall,
	}
	b.logf("  out_null    %12s           %6.2f s CPU/M records (%2.0f%% sys) %6.1f MiB",
		"", r.cpuPerM(), 100*r.sys.Seconds()/r.cpu.Seconds(), float64(r.maxRSS)/(1<<20))
	return r, nil
}

// plugged measures the plugin sending format f.
func (b *bench) plugged(ctx context.Context, f encoder.Format, workers, n int) (result, error) {
	srv, err := startServer(f)
	if err != nil {
		return result{}, err
	}
	props := append([]string{"uri=" + srv.URL(), "format=" + f.String(), "workers=" + strconv.Itoa(workers)}, b.props(f)...)
	h := hostRun{
		host: b.cfg.host, plugin: b.plugin, output: b.output, props: props,
		file: b.in.file, repeat: n, timeout: b.runTimeout(n),
	}
	cpu := ownCPU()
	res, err := h.run(ctx)
	r, cerr := b.tally(srv, n)
	if err != nil {
		return r, err
	}
	r.kind, r.workers, r.format, r.ownCPU = pluginRow, workers, f, ownCPU()-cpu
	r.cpu, r.sys, r.maxRSS, r.hwm, r.wall = res.cpu, res.sys, res.hwm.at(res.wall), res.hwm, res.wall
	b.logf("  %-11v %12.0f records/s %6.2f s CPU/M records (%2.0f%% sys) %6.1f MiB, %6.2f s CPU/M records in the server",
		f, r.recordsPerSec(), r.cpuPerM(), 100*r.sys.Seconds()/r.cpu.Seconds(), float64(r.maxRSS)/(1<<20),
		r.ownCPU.Seconds()*1e6/float64(r.records))
	return r, cerr
}

// props are the plugin properties of a run in format f beyond uri, format
// and workers.
func (b *bench) props(f encoder.Format) []string {
	var props []string
	if f == encoder.GELF {
		// The sample records carry their text in "msg"; without a short
		// message GELF would skip them all.
		props = append(props, "gelf_short_message_key=msg")
	}
	return append(props, b.cfg.props...)
}

// tally stops srv and checks that it counted the records of n passes.
func (b *bench) tally(srv *server, n int) (result, error) {
	t := srv.stop(10 * time.Second)
	r := result{records: t.records, bytes: b.in.bytes * int64(n), elapsed: t.elapsed}
	if t.err != nil {
		return r, fmt.Errorf("server: %w", t.err)
	}
	if want := b.in.records * int64(n); t.records != want {
		return r, fmt.Errorf("the server counted %d records in %d messages, want %d in %d chunks",
			t.records, t.messages, want, len(b.in.chunks)*n)
	}
	return r, nil
}

func (b *bench) logf(format string, args ...any) {
	fmt.Fprintf(b.log, "bench: "+format+"\n", args...)
}

// median returns the run with the median value of key.
func median(rs []result, key func(result) float64) result {
	rs = slices.Clone(rs)
	slices.SortFunc(rs, func(a, b result) int { return cmp.Compare(key(a), key(b)) })
	return rs[len(rs)/2]
}

// describePlugin identifies the measured plugin: its path, a hash of its
// bytes, the Go version that built it and, when it lies in a git work tree,
// that tree's commit (what make bench builds it from).
func describePlugin(ctx context.Context, path string, data []byte) string {
	sum := sha256.Sum256(data)
	desc := fmt.Sprintf("%s, sha256 %x", path, sum[:6])
	if info, err := buildinfo.Read(bytes.NewReader(data)); err == nil {
		desc += ", built by " + info.GoVersion
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	git := func(args ...string) (string, error) {
		out, err := exec.CommandContext(ctx, "git", append([]string{"-C", filepath.Dir(path)}, args...)...).Output()
		return strings.TrimSpace(string(out)), err
	}
	if rev, err := git("rev-parse", "--short", "HEAD"); err == nil {
		desc += ", in a work tree at commit " + rev
		if changes, err := git("status", "--porcelain", "--untracked-files=no"); err == nil && changes != "" {
			desc += " with uncommitted changes"
		}
	}
	return desc
}

// ownCPU is the user+sys time this process has used so far.
func ownCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
