package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// hostRun is one flbhost process: one output instance, the stream's chunk
// file sent repeat times.
type hostRun struct {
	host    string   // flbhost binary
	plugin  string   // the .so to load
	output  string   // output name the plugin registers
	props   []string // key=value, each passed as -p
	file    string   // framed chunks, -I
	repeat  int      // -n
	timeout time.Duration
}

// hostResult is what the host reported and what its process cost.
type hostResult struct {
	summary summary
	cpu     time.Duration // user + sys of the host process
	sys     time.Duration // of which sys
	hwm     hwmTrace      // the host's peak RSS as it grew (see watchHWM)
	wall    time.Duration
}

// summary is flbhost's "flbhost: summary {json}" line.
type summary struct {
	Instance string `json:"instance"`
	Chunks   int    `json:"chunks"`
	OK       int    `json:"ok"`
	Retried  int    `json:"retried"`
	Dropped  int    `json:"dropped"`
	Errors   int    `json:"errors"`
}

// run starts the host, waits for it and checks that every chunk was
// flushed once, with FLB_OK. The host gets --max-runtime so it stops by
// itself; the context kills it should it hang past that.
func (h hostRun) run(ctx context.Context) (hostResult, error) {
	args := []string{"-e", h.plugin, "-o", h.output}
	for _, p := range h.props {
		args = append(args, "-p", p)
	}
	maxRuntime := int(h.timeout / time.Second)
	args = append(args, "-I", h.file, "-n", strconv.Itoa(h.repeat),
		"--log-level", "warn", "--max-runtime", strconv.Itoa(maxRuntime))
	ctx, cancel := context.WithTimeout(ctx, h.timeout+15*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, h.host, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return hostResult{}, err
	}
	exited := make(chan struct{})
	traced := watchHWM(cmd.Process.Pid, start, exited)
	err := cmd.Wait()
	wall := time.Since(start)
	close(exited)
	hwm := <-traced
	if err != nil {
		return hostResult{}, fmt.Errorf("%s %s: %w\n%s", h.host, strings.Join(args, " "), err, tail(stderr.Bytes()))
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	res := hostResult{
		cpu:  time.Duration(ru.Utime.Nano() + ru.Stime.Nano()),
		sys:  time.Duration(ru.Stime.Nano()),
		hwm:  hwm,
		wall: wall,
	}
	if res.summary, err = parseSummary(stdout.Bytes()); err != nil {
		return res, fmt.Errorf("%s: %w\n%s", h.output, err, tail(stderr.Bytes()))
	}
	s := res.summary
	if s.OK != s.Chunks || s.Retried != 0 || s.Dropped != 0 || s.Errors != 0 {
		return res, fmt.Errorf("%s: not every chunk flushed once with FLB_OK, the figures would be wrong: %+v\n%s",
			h.output, s, tail(stderr.Bytes()))
	}
	return res, nil
}

// hwmPoint is a rise of a process's peak RSS: its new value, and when.
type hwmPoint struct {
	at    time.Duration // since the process started
	bytes int64
}

// hwmTrace is how a process's peak RSS grew, in time order.
type hwmTrace []hwmPoint

// at returns the peak RSS reached by time d, 0 if none was read by then.
func (t hwmTrace) at(d time.Duration) int64 {
	var v int64
	for _, p := range t {
		if p.at > d {
			break
		}
		v = p.bytes
	}
	return v
}

// watchHWM samples the VmHWM (peak resident set) of process pid, started
// at start, every 10 ms until exited is closed, and then sends each rise.
//
// The obvious measure, ru_maxrss from wait4, is wrong here: Linux carries
// the parent's high-water mark into the child through fork (vfork, for Go)
// and exec, so a host started by this process would report at least this
// process's own peak (/bin/true started by a Go program holding 200 MB
// reports 200 MB). VmHWM belongs to the host's own address space. The
// kernel keeps it up to date whenever memory is unmapped, so sampling
// misses only a peak first reached in the host's last 10 ms.
func watchHWM(pid int, start time.Time, exited <-chan struct{}) <-chan hwmTrace {
	out := make(chan hwmTrace, 1)
	status := "/proc/" + strconv.Itoa(pid) + "/status"
	go func() {
		var trace hwmTrace
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			if v, ok := readHWM(status); ok && (len(trace) == 0 || v > trace[len(trace)-1].bytes) {
				trace = append(trace, hwmPoint{time.Since(start), v})
			}
			select {
			case <-exited:
				out <- trace
				return
			case <-tick.C:
			}
		}
	}()
	return out
}

// readHWM reads the VmHWM line of a /proc/PID/status file, in bytes. It
// fails once the process has exited, its address space gone.
func readHWM(status string) (int64, bool) {
	data, err := os.ReadFile(status)
	if err != nil {
		return 0, false
	}
	for line := range strings.Lines(string(data)) {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10, err == nil
		}
	}
	return 0, false
}

// parseSummary finds the one summary line in the host's stdout.
func parseSummary(stdout []byte) (summary, error) {
	const prefix = "flbhost: summary "
	var s summary
	found := 0
	sc := bufio.NewScanner(bytes.NewReader(stdout))
	for sc.Scan() {
		if line, ok := strings.CutPrefix(sc.Text(), prefix); ok {
			found++
			if err := json.Unmarshal([]byte(line), &s); err != nil {
				return s, fmt.Errorf("summary line: %w", err)
			}
		}
	}
	if found != 1 {
		return s, fmt.Errorf("%d summary lines in the host's output, want 1", found)
	}
	return s, nil
}

// pluginName returns the output name the plugin registers, from a host run
// that loads it and creates no instance.
func pluginName(ctx context.Context, host, plugin string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, host, "-e", plugin).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("%s -e %s: %w\n%s", host, plugin, err, tail(out))
	}
	const prefix = "flbhost: registered "
	for line := range strings.Lines(string(out)) {
		if js, ok := strings.CutPrefix(line, prefix); ok {
			var reg struct{ Name string }
			if err := json.Unmarshal([]byte(js), &reg); err != nil {
				return "", fmt.Errorf("registered line: %w", err)
			}
			return reg.Name, nil
		}
	}
	return "", errors.New(plugin + " registers no output")
}

// tail returns the end of a process's output, for error messages.
func tail(b []byte) string {
	const max = 4 << 10
	if len(b) > max {
		b = b[len(b)-max:]
	}
	return string(b)
}
