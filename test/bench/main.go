// Command bench measures out_websocket end to end: the plugin loaded by the
// test host (test/flbhost), sending a stream of realistic records over
// loopback to a WebSocket server in this process that counts them. For each
// format and Workers setting it reports records/s, MB/s of msgpack input,
// host CPU seconds per million records and the host's peak RSS, next to two
// references measured in the same run: the bare client (a plain gorilla
// client in a process of its own sending the bytes the plugin sends, with
// the same ping and pong per chunk; no host, no plugin), whose CPU is the
// ceiling of the plugin's, and the host with a no-op output
// (test/flbhost/probe.so, the out_null equivalent). It also checks that
// peak RSS does not grow with the stream length.
//
// Every run is checked: the server must count exactly the records sent,
// else the benchmark fails.
//
// Usage:
//
//	go run ./test/bench -host test/flbhost/flbhost -plugin ./out_websocket.so [-out bench/RESULTS.md]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"time"

	"github.com/out-websocket/out_websocket/encoder"
)

// config is what one benchmark run measures.
type config struct {
	host, plugin string
	formats      []encoder.Format
	workers      []int
	chunks       int    // chunks in the framed input file
	chunkSize    int    // bytes, at most, of each chunk
	streamMB     int    // msgpack input per table row
	rssMB        [2]int // the short and the long stream of the RSS check (msgpack, json_lines)
	runs         int    // runs per table row; the median one is reported
	timeout      time.Duration
	props        []string // more plugin properties, key=value
}

// fullConfig measures 400 MB per row, five times, and the RSS at 100 MB and
// 2 GB: about 4 minutes on 2 idle cores. The input file holds only two distinct
// chunks: the host keeps the whole file in memory and briefly twice while
// loading it, and a larger file would hide the plugin's memory under the
// host's own peak.
func fullConfig() config {
	return config{
		formats:   []encoder.Format{encoder.Msgpack, encoder.JSON, encoder.JSONStream, encoder.JSONLines, encoder.GELF},
		workers:   []int{0, 2},
		chunks:    2,
		chunkSize: 2_000_000,
		streamMB:  400,
		rssMB:     [2]int{100, 2000},
		runs:      5,
		timeout:   20 * time.Minute,
	}
}

// quickConfig is a smoke test: every path, a few seconds.
func quickConfig() config {
	c := fullConfig()
	c.streamMB, c.rssMB, c.runs, c.timeout = 8, [2]int{4, 16}, 1, 2*time.Minute
	return c
}

func main() {
	bareChild()
	cfg, out, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, cfg.timeout)
	defer cancel()

	rep, err := run(ctx, cfg, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench: FAILED:", err)
		os.Exit(1)
	}
	doc := rep.document(command())
	fmt.Print(doc)
	if out != "" {
		if err := os.WriteFile(out, []byte(doc), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
	}
}

// parseFlags returns the configuration and the -out file.
func parseFlags(args []string) (config, string, error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	host := fs.String("host", "", "the test host binary (test/flbhost/flbhost); its probe.so is the out_null equivalent")
	plugin := fs.String("plugin", "", "the plugin .so to measure (copied first, so a rebuild during the run changes nothing)")
	out := fs.String("out", "", "also write the results, with the date, machine and command, to this markdown file")
	quick := fs.Bool("quick", false, "small streams, one run per row: a smoke test")
	formats := fs.String("formats", "msgpack,json,json_stream,json_lines,gelf", "comma-separated formats to measure")
	workers := fs.String("workers", "0,2", "comma-separated Workers settings to measure")
	streamMB := fs.Int("stream", 0, "MB of msgpack input per table row (default 400, -quick 8)")
	runs := fs.Int("runs", 0, "runs per table row, the median reported (default 5, -quick 1)")
	timeout := fs.Duration("timeout", 0, "give up after this long (default 20m, -quick 2m)")
	props := fs.String("p", "", "comma-separated key=value plugin properties for every plugin run, e.g. confirm_delivery=off")
	if err := fs.Parse(args); err != nil {
		return config{}, "", err
	}
	if fs.NArg() > 0 {
		return config{}, "", fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	cfg := fullConfig()
	if *quick {
		cfg = quickConfig()
	}
	if *host == "" || *plugin == "" {
		return cfg, "", errors.New("-host and -plugin are required")
	}
	cfg.host, cfg.plugin = *host, *plugin
	if *props != "" {
		cfg.props = strings.Split(*props, ",")
	}
	cfg.formats = nil
	for name := range strings.SplitSeq(*formats, ",") {
		f, err := encoder.ParseFormat(strings.TrimSpace(name))
		if err != nil {
			return cfg, "", err
		}
		if _, _, err := bareOptions(f.String(), cfg.props); err != nil {
			return cfg, "", fmt.Errorf("-p: %w", err)
		}
		cfg.formats = append(cfg.formats, f)
	}
	cfg.workers = nil
	for w := range strings.SplitSeq(*workers, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(w))
		if err != nil || n < 0 {
			return cfg, "", fmt.Errorf("bad -workers value %q", w)
		}
		cfg.workers = append(cfg.workers, n)
	}
	for _, v := range []struct {
		dst  *int
		flag int
		name string
	}{{&cfg.streamMB, *streamMB, "stream"}, {&cfg.runs, *runs, "runs"}} {
		switch {
		case v.flag < 0:
			return cfg, "", fmt.Errorf("-%s must be positive", v.name)
		case v.flag > 0:
			*v.dst = v.flag
		}
	}
	if *timeout > 0 {
		cfg.timeout = *timeout
	}
	return cfg, *out, nil
}

// command is how this run was started, for the results file.
func command() string {
	name := os.Args[0]
	if strings.Contains(name, "go-build") { // go run
		name = "go run ./test/bench"
	}
	return strings.Join(append([]string{name}, os.Args[1:]...), " ")
}
