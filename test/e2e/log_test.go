package e2e

// Where the plugin's log lines go, seen from Fluent Bit's side.

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/out-websocket/out_websocket/internal/hosttest"
	"github.com/out-websocket/out_websocket/internal/reference"
	"github.com/out-websocket/out_websocket/internal/wstest"
)

// TestLogFileGetsEveryLine: with [SERVICE] Log_File every line the plugin
// logs is in that file, lines from its own goroutines included (a server
// that closes each connection, one that never answers a ping): none on
// stderr or stdout, each counted as Fluent Bit counts its logger's lines
// (fluentbit_logs_total), printed while Fluent Bit runs, in order per
// instance. Flushes run on the engine thread (Workers 0) and on output
// worker threads (Workers 2); across a hot reload the old config's worker
// is not used after its instances' exits (the host aborts if it is); and
// where flb_worker_ctx is a pthread key rather than a __thread variable.
func TestLogFileGetsEveryLine(t *testing.T) {
	closing := wstest.StartWSServer(t, wstest.WSOptions{CloseEvery: 1, CloseCode: 1011})
	silent := wstest.StartWSServer(t, wstest.WSOptions{Handle: func(c *wstest.Conn) {
		c.SetPingHandler(func(string) error { return nil }) // never a pong
		for {
			if _, _, err := c.ReadMessage(); err != nil {
				return
			}
		}
	}})
	for _, tt := range []struct {
		name, workers, reload string
		key                   bool // flb_worker_ctx a pthread key, not __thread
	}{
		{"workers 0", "0", "", false},
		{"workers 2", "2", "", false},
		{"hot reload", "2", "3", false},
		{"pthread key", "2", "", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			logFile := filepath.Join(hosttest.TempDir(t), "fluent-bit.log")
			conf := hosttest.WriteConfig(t, "fluent-bit.conf", fmt.Sprintf(`[SERVICE]
    Log_File %s
[OUTPUT]
    Name websocket_go
    Match *
    URI %s
    Log_Level debug
    Retry_Limit no_limits
    Workers %s
[OUTPUT]
    Name websocket_go
    Alias silent
    Match *
    URI %s
    Log_Level debug
    confirm_delivery off
    ping_interval 0.05
    ping_timeout 0.1
`, logFile, closing.URL(), tt.workers, silent.URL()))
			args := []string{"-e", hosttest.PluginSO(t), "-c", conf, "-i", reference.Chunk(), "-n", "8",
				"--retry-wait", "100", "--retry-cap", "200", "--max-runtime", "4"}
			if tt.reload != "" {
				args = append(args, "--reload-after", tt.reload)
			}
			if tt.key {
				args = append(args, "--worker-key")
			}
			r := hosttest.RunHostWith(t, hosttest.HostOptions{Timeout: 60 * time.Second}, args...)
			r.RequireOK(t)
			if tt.reload != "" && r.Reloads != 1 {
				t.Fatalf("%d hot reloads, want 1\n%s", r.Reloads, r.Dump())
			}
			data, err := os.ReadFile(logFile)
			if err != nil {
				t.Fatal(err)
			}
			lines := hosttest.ParseLogLines(string(data))
			dump := fmt.Sprintf("%s\n--- %s ---\n%s", r.Dump(), logFile, data)

			for _, out := range []string{r.Stderr, r.Stdout} {
				if strings.Contains(out, "[output:websocket_go:") {
					t.Fatalf("plugin lines outside the Log_File\n%s", dump)
				}
			}
			total := 0
			for _, n := range r.LogsTotal {
				total += n
			}
			if total != len(lines) {
				t.Errorf("Fluent Bit's logger took %d lines %v, the Log_File has %d\n%s", total, r.LogsTotal, len(lines), dump)
			}

			// Goroutine lines, printed before Fluent Bit stopped.
			stop := -1
			for i, l := range lines {
				if strings.Contains(l.Message, "--max-runtime reached") {
					stop = i
				}
			}
			for _, want := range []string{"[output:websocket_go:websocket_go.0] " + closing.URL() + " closed the connection: close 1011",
				"[output:websocket_go:silent] no pong from " + silent.URL()} {
				first := -1
				for i, l := range lines {
					if strings.HasPrefix(l.Message, want) {
						first = i
						break
					}
				}
				if first < 0 || stop >= 0 && first > stop {
					t.Errorf("%q: first at line %d, Fluent Bit stopped at line %d\n%s", want, first, stop, dump)
				}
			}

			// In order: each instance starts with its version line, and no
			// connection is lost before it was made.
			for _, name := range []string{"websocket_go.0", "silent"} {
				prefix := "[output:websocket_go:" + name + "] "
				var own []string
				for _, l := range lines {
					if strings.HasPrefix(l.Message, prefix) {
						own = append(own, strings.TrimPrefix(l.Message, prefix))
					}
				}
				if len(own) == 0 || !strings.HasPrefix(own[0], "version=") {
					t.Fatalf("%s: lines %q do not start with its version line\n%s", name, own, dump)
				}
				connected, lost := 0, 0
				for _, l := range own {
					switch {
					case strings.HasPrefix(l, "version="):
						connected, lost = 0, 0 // a hot reload starts it again
					case strings.HasPrefix(l, "connected to"):
						connected++
					case strings.Contains(l, "closed the connection"), strings.HasPrefix(l, "no pong"):
						lost++
					}
					if lost > connected {
						t.Fatalf("%s: %q logged before the connection it ends\n%s", name, l, dump)
					}
				}
			}
		})
	}
}
