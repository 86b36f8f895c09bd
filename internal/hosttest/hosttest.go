// Package hosttest runs the test host (test/flbhost) for the end-to-end
// tests and the host's own tests: it builds the host and the plugin once,
// runs the host with a timeout (RunHost, StartHost) and parses its
// "flbhost:" lines and Fluent Bit log lines into a HostResult.
//
// Host output it understands (see test/flbhost/README.md):
//
//	flbhost: registered {"name":...,"description":...,"type":2,"proxy":11,"flags":N,"event_type":N}
//	flbhost: summary {"instance":"name.0","name":...,"alias":...,"chunks":N,...}
//	flbhost: reloaded
//	flbhost: metrics {"instance":"name.0","generation":N,"series":[...]}
//	flbhost: logs_total {"error":N,"warn":N,"info":N,"debug":N,"trace":N}
//	flbhost: peak_memory {"vm_hwm_kb":N}
//	flbhost: signals {"SIGTERM":{"handler":"fluent-bit|other|default|ignore","onstack":true},...}
package hosttest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/out-websocket/out_websocket/internal/chunktest"
)

// DefaultHostTimeout bounds every host run unless HostOptions.Timeout says otherwise.
const DefaultHostTimeout = 20 * time.Second

// RepoRoot is the absolute path of the repository.
var RepoRoot = func() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}()

var (
	hostDir    = filepath.Join(RepoRoot, "test", "flbhost") // the host, its libraries and probe plugins
	hostBinary = filepath.Join(hostDir, "flbhost")

	pluginOnce sync.Once
	pluginPath string
	pluginErr  error
)

// Main builds the test host, then runs the tests: a test package's TestMain.
func Main(m *testing.M) {
	out, err := exec.Command("make", "-C", hostDir).CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "building the test host failed: %v\n%s\n", err, out)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

// ProbeSO is the C probe plugin; ProbeNoCtxSO the variant without
// FLBPluginFlushCtx/ExitCtx/PreRegister/OutputPreExit.
func ProbeSO() string      { return filepath.Join(hostDir, "probe.so") }
func ProbeNoCtxSO() string { return filepath.Join(hostDir, "probe_noctx.so") }

// PluginSO builds the plugin (make -C <repo> build) once per test binary and
// returns the absolute path of out_websocket.so. It fails the calling test
// (not the others) when the build fails.
func PluginSO(t testing.TB) string {
	t.Helper()
	pluginOnce.Do(func() {
		cmd := exec.Command("make", "-C", RepoRoot, "build")
		out, err := cmd.CombinedOutput()
		if err != nil {
			pluginErr = fmt.Errorf("make -C %s build: %v\n%s", RepoRoot, err, out)
			return
		}
		pluginPath = filepath.Join(RepoRoot, "out_websocket.so")
		if _, err := os.Stat(pluginPath); err != nil {
			pluginErr = fmt.Errorf("plugin built but %s is missing: %v", pluginPath, err)
		}
	})
	if pluginErr != nil {
		t.Fatalf("building the plugin failed: %v", pluginErr)
	}
	return pluginPath
}

// Registration is one "flbhost: registered" line.
type Registration struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	Type        int    `json:"type"`
	Proxy       int    `json:"proxy"`
	Flags       int    `json:"flags"`
	EventType   int    `json:"event_type"`
}

// Summary is one "flbhost: summary" line: the counters of one output
// instance over the whole run (hot reloads included).
type Summary struct {
	Instance    string `json:"instance"` // "<plugin>.<id>", not the alias
	Name        string `json:"name"`
	Alias       string `json:"alias"`
	Chunks      int    `json:"chunks"`       // chunks routed to the instance
	Flushes     int    `json:"flushes"`      // flush calls (retries included)
	OK          int    `json:"ok"`           // FLB_OK returns
	Retried     int    `json:"retried"`      // FLB_RETRY returns
	Dropped     int    `json:"dropped"`      // chunks dropped after retries (or abandoned)
	Errors      int    `json:"errors"`       // FLB_ERROR returns (+ invalid codes)
	Invalid     int    `json:"invalid"`      // codes other than 0/1/2 (counted in Errors too)
	MaxInflight int    `json:"max_inflight"` // most flushes of this instance running at once
	Workers     int    `json:"workers"`
}

// HostResult is what one host run produced.
type HostResult struct {
	Args       []string
	Stdout     string
	Stderr     string
	ExitCode   int    // -1 when killed by a signal
	Signal     string // "segmentation fault", "aborted", ... when killed by a signal
	TimedOut   bool
	Duration   time.Duration
	PeakMemory int64 // the host's peak resident memory (VmHWM), bytes
	// LogsTotal counts by level the lines Fluent Bit's logger took (from a
	// thread with a worker), as fluentbit_logs_total does.
	LogsTotal     map[string]int
	Registrations []Registration
	Summaries     map[string]Summary // by Instance, and by Alias when set
	SummaryList   []Summary          // in instance order
	Reloads       int                // "flbhost: reloaded" lines
	Metrics       []MetricsDump      // one per instance and generation, in order
	// Signals are the "flbhost: signals" lines, in order: who handled each
	// signal after each hot reload (or reload that failed), and at the end.
	Signals []map[string]SignalHandler
}

// SignalHandler says who handles a signal: "fluent-bit" (the host's own
// handlers, as fluent-bit.c's flb_signal_init installs them), "other" (the
// plugin's or Go's), "default" or "ignore"; and with SA_ONSTACK or not.
type SignalHandler struct {
	Handler string `json:"handler"`
	OnStack bool   `json:"onstack"`
}

// Faulted tells a host that died of a fault as Fluent Bit does: its
// SIGSEGV handler prints the signal and aborts.
func (r HostResult) Faulted() bool {
	return r.Signal == "aborted" && strings.Contains(r.Stderr, "[engine] caught signal (SIGSEGV)")
}

// MetricsDump is one "flbhost: metrics" line: every cmetrics series an
// instance registered, printed when the host destroyed it (at a hot reload
// or at the end).
type MetricsDump struct {
	Instance   string   `json:"instance"`
	Generation int      `json:"generation"` // hot reloads before this instance
	Series     []Series `json:"series"`
}

// Series is one metric series as the host's cmetrics recorded it.
type Series struct {
	Name    string            `json:"name"`
	Type    string            `json:"type"` // counter, gauge, histogram
	Labels  map[string]string `json:"labels"`
	Value   float64           `json:"value"` // counter, gauge
	Count   uint64            `json:"count"` // histogram
	Sum     float64           `json:"sum"`
	Buckets []uint64          `json:"buckets"` // per bound, +Inf last
}

// Metric returns the series of an instance's last generation whose name
// and labels (besides name=instance) match, or fails.
func (r HostResult) Metric(t testing.TB, instance, name string, labels ...string) Series {
	t.Helper()
	for i := len(r.Metrics) - 1; i >= 0; i-- {
		if r.Metrics[i].Instance != instance {
			continue
		}
	series:
		for _, s := range r.Metrics[i].Series {
			if s.Name != name || s.Labels["name"] != instance {
				continue
			}
			for j := 0; j+1 < len(labels); j += 2 {
				if s.Labels[labels[j]] != labels[j+1] {
					continue series
				}
			}
			return s
		}
		break
	}
	t.Fatalf("no metric %s%q for %s\n%s", name, labels, instance, r.Dump())
	return Series{}
}

// Summary returns the summary of an instance ("name.0" or its alias) or fails.
func (r HostResult) Summary(t testing.TB, instance string) Summary {
	t.Helper()
	s, ok := r.Summaries[instance]
	if !ok {
		t.Fatalf("no summary for instance %q\n%s", instance, r.Dump())
	}
	return s
}

// Registration returns the first registration line or fails.
func (r HostResult) Registration(t testing.TB) Registration {
	t.Helper()
	if len(r.Registrations) == 0 {
		t.Fatalf("the host printed no registration line\n%s", r.Dump())
	}
	return r.Registrations[0]
}

// RequireOK fails unless the host exited 0 in time.
func (r HostResult) RequireOK(t testing.TB) {
	t.Helper()
	if r.TimedOut || r.ExitCode != 0 {
		t.Fatalf("host run failed (exit %d, signal %q, timed out %v)\n%s",
			r.ExitCode, r.Signal, r.TimedOut, r.Dump())
	}
}

// Dump is a readable form of the run for failure messages.
func (r HostResult) Dump() string {
	return fmt.Sprintf("args: %q\n--- stdout ---\n%s--- stderr ---\n%s", r.Args, r.Stdout, r.Stderr)
}

// LogLine is one stderr line in Fluent Bit's log format.
type LogLine struct {
	Level   string // "error", "warn", "info", "debug", "trace"
	Message string // text after "[ level] "
	Raw     string
}

// Milliseconds only from Fluent Bit 5.0 on.
var logLineRE = regexp.MustCompile(`^\[(\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2}(?:\.\d{3})?)\] \[([ a-z]{5})\] (.*)$`)

// LogLines parses the stderr lines that have Fluent Bit's log format.
func (r HostResult) LogLines() []LogLine { return ParseLogLines(r.Stderr) }

// ParseLogLines parses the lines of text (stderr, a Log_File) that have
// Fluent Bit's log format.
func ParseLogLines(text string) []LogLine {
	var out []LogLine
	for _, l := range strings.Split(text, "\n") {
		if m := logLineRE.FindStringSubmatch(l); m != nil {
			out = append(out, LogLine{Level: strings.TrimSpace(m[2]), Message: m[3], Raw: l})
		}
	}
	return out
}

// CountLogs counts the log lines of a level whose message contains text.
func (r HostResult) CountLogs(level, text string) int {
	n := 0
	for _, l := range r.LogLines() {
		if l.Level == level && strings.Contains(l.Message, text) {
			n++
		}
	}
	return n
}

// StdoutLines returns the stdout lines that start with prefix (prefix removed).
func (r HostResult) StdoutLines(prefix string) []string {
	var out []string
	for _, l := range strings.Split(r.Stdout, "\n") {
		if strings.HasPrefix(l, prefix) {
			out = append(out, strings.TrimPrefix(l, prefix))
		}
	}
	return out
}

// HostOptions tune a host run.
type HostOptions struct {
	Timeout time.Duration // DefaultHostTimeout when 0
	Env     []string      // extra KEY=VALUE for the host's environment
	Dir     string        // working directory (the test's temp dir when empty)
}

// syncBuffer is a bytes.Buffer safe to read while the host writes to it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// RunningHost is a host started in the background.
type RunningHost struct {
	t       testing.TB
	cmd     *exec.Cmd
	args    []string
	stdout  *syncBuffer
	stderr  *syncBuffer
	start   time.Time
	timer   *time.Timer
	mu      sync.Mutex
	timeout bool
	done    chan struct{}
	result  HostResult
}

// StartHost starts the host with args; Wait collects the result.
func StartHost(t testing.TB, o HostOptions, args ...string) *RunningHost {
	t.Helper()
	if o.Timeout == 0 {
		o.Timeout = DefaultHostTimeout
	}
	cmd := exec.Command(hostBinary, args...)
	cmd.Env = append(os.Environ(), o.Env...)
	cmd.Dir = o.Dir
	if cmd.Dir == "" {
		cmd.Dir = TempDir(t)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	h := &RunningHost{t: t, cmd: cmd, args: args, stdout: &syncBuffer{},
		stderr: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stdout = h.stdout
	cmd.Stderr = h.stderr
	h.start = time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", hostBinary, err)
	}
	h.timer = time.AfterFunc(o.Timeout, func() {
		h.mu.Lock()
		h.timeout = true
		h.mu.Unlock()
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	})
	go h.wait()
	t.Cleanup(func() {
		select {
		case <-h.done:
		default:
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-h.done
		}
	})
	return h
}

func (h *RunningHost) wait() {
	err := h.cmd.Wait()
	h.timer.Stop()
	r := HostResult{Args: h.args, Stdout: h.stdout.String(), Stderr: h.stderr.String(),
		Duration: time.Since(h.start)}
	h.mu.Lock()
	r.TimedOut = h.timeout
	h.mu.Unlock()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		ws := ee.Sys().(syscall.WaitStatus)
		if ws.Signaled() {
			r.ExitCode = -1
			r.Signal = ws.Signal().String()
		} else {
			r.ExitCode = ws.ExitStatus()
		}
	} else if err != nil {
		r.ExitCode = -1
		r.Signal = err.Error()
	}
	parseHostOutput(&r)
	h.result = r
	close(h.done)
}

// Signal sends sig to the host process.
func (h *RunningHost) Signal(sig syscall.Signal) {
	_ = h.cmd.Process.Signal(sig)
}

// Output returns what the host printed so far (stdout, stderr).
func (h *RunningHost) Output() (stdout, stderr string) {
	return h.stdout.String(), h.stderr.String()
}

// WaitFor waits until stdout or stderr contains substr; false on timeout or
// when the host ended without printing it.
func (h *RunningHost) WaitFor(substr string, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for {
		out, errs := h.Output()
		if strings.Contains(out, substr) || strings.Contains(errs, substr) {
			return true
		}
		select {
		case <-h.done:
			out, errs = h.Output()
			return strings.Contains(out, substr) || strings.Contains(errs, substr)
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return false
		}
	}
}

// Done is closed when the host has ended.
func (h *RunningHost) Done() <-chan struct{} { return h.done }

// Wait waits for the host to end and returns the result.
func (h *RunningHost) Wait() HostResult {
	<-h.done
	return h.result
}

// RunHost runs the host to completion with the default options.
func RunHost(t testing.TB, args ...string) HostResult {
	t.Helper()
	return StartHost(t, HostOptions{}, args...).Wait()
}

// RunPlugin runs the host on the project's plugin (built on first use):
// RunHost(t, "-e", PluginSO(t), args...).
func RunPlugin(t testing.TB, args ...string) HostResult {
	t.Helper()
	return RunHost(t, append([]string{"-e", PluginSO(t)}, args...)...)
}

// RunHostWith runs the host to completion with options.
func RunHostWith(t testing.TB, o HostOptions, args ...string) HostResult {
	t.Helper()
	return StartHost(t, o, args...).Wait()
}

func parseHostOutput(r *HostResult) {
	r.Summaries = map[string]Summary{}
	sc := bufio.NewScanner(strings.NewReader(r.Stdout))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "flbhost: registered "):
			var reg Registration
			if json.Unmarshal([]byte(strings.TrimPrefix(line, "flbhost: registered ")), &reg) == nil {
				r.Registrations = append(r.Registrations, reg)
			}
		case strings.HasPrefix(line, "flbhost: summary "):
			var s Summary
			if json.Unmarshal([]byte(strings.TrimPrefix(line, "flbhost: summary ")), &s) == nil {
				r.SummaryList = append(r.SummaryList, s)
				r.Summaries[s.Instance] = s
				if s.Alias != "" {
					r.Summaries[s.Alias] = s
				}
			}
		case line == "flbhost: reloaded":
			r.Reloads++
		case strings.HasPrefix(line, "flbhost: metrics "):
			var m MetricsDump
			if json.Unmarshal([]byte(strings.TrimPrefix(line, "flbhost: metrics ")), &m) == nil {
				r.Metrics = append(r.Metrics, m)
			}
		case strings.HasPrefix(line, "flbhost: logs_total "):
			_ = json.Unmarshal([]byte(strings.TrimPrefix(line, "flbhost: logs_total ")), &r.LogsTotal)
		case strings.HasPrefix(line, "flbhost: signals "):
			var m map[string]SignalHandler
			if json.Unmarshal([]byte(strings.TrimPrefix(line, "flbhost: signals ")), &m) == nil {
				r.Signals = append(r.Signals, m)
			}
		case strings.HasPrefix(line, "flbhost: peak_memory "):
			var m struct {
				KB int64 `json:"vm_hwm_kb"`
			}
			if json.Unmarshal([]byte(strings.TrimPrefix(line, "flbhost: peak_memory ")), &m) == nil {
				r.PeakMemory = m.KB << 10
			}
		}
	}
}

// WriteConfig writes a file (a Fluent Bit config, a plugins file, ...) into
// the test's temp dir and returns its path. Leading tabs of content are kept
// as written, so use spaces for classic-format indentation.
func WriteConfig(t testing.TB, name, content string) string {
	t.Helper()
	return WriteFile(t, name, []byte(content))
}

var tempDirs sync.Map // testing.TB -> string

// TempDir is one temp directory per test, shared by WriteConfig/WriteFile
// (so a config and the files it names sit side by side) and used as the
// host's working directory by default.
func TempDir(t testing.TB) string {
	t.Helper()
	if v, ok := tempDirs.Load(t); ok {
		return v.(string)
	}
	d := t.TempDir()
	tempDirs.Store(t, d)
	t.Cleanup(func() { tempDirs.Delete(t) })
	return d
}

// WriteFile writes bytes into the test's temp dir (TempDir) and returns the path.
func WriteFile(t testing.TB, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(TempDir(t), name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// WriteChunks writes chunks into the test's temp dir (TempDir) as a stream
// for the host's -I option, and returns its path.
func WriteChunks(t testing.TB, name string, chunks ...[]byte) string {
	t.Helper()
	return WriteFile(t, name, chunktest.Frame(chunks...))
}
