package e2e

import (
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/out-websocket/out_websocket/internal/hosttest"
	"github.com/out-websocket/out_websocket/internal/wstest"
)

// The plugin's life in Fluent Bit: hot reloads that fail or go ahead,
// stops after them, and stops that let a slow server finish.

// reloadConf is a main config with hot reload on and one output of the
// plugin; extra lines go into its [OUTPUT].
func reloadConf(url string, workers int, extra ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "[SERVICE]\n    Hot_Reload On\n[OUTPUT]\n    Name    websocket_go\n    Match   *\n    URI     %s\n    Workers %d\n", url, workers)
	for _, e := range extra {
		fmt.Fprintf(&b, "    %s\n", e)
	}
	return b.String()
}

// A hot reload whose new configuration Fluent Bit rejects (an [OUTPUT]
// with a Log_Level it does not know) registers the plugin again, then
// unregisters that registration while the running pipeline goes on: that
// pipeline keeps delivering every record. Not 2.2: its proxy refuses
// every flush of a Go plugin once a reload began, failed or not.
func TestFailedReloadKeepsDelivering(t *testing.T) {
	t.Parallel()
	const chunks, perChunk = 20, 5
	for _, v := range []string{"3.2", "5.1"} {
		for _, workers := range []int{0, 2} {
			t.Run(fmt.Sprintf("%s/workers %d", v, workers), func(t *testing.T) {
				t.Parallel()
				srv := wstest.StartWSServer(t, wstest.WSOptions{})
				good := reloadConf(srv.URL(), workers, "Format json_lines")
				conf := hosttest.WriteConfig(t, "fluent-bit.conf", good)
				in := hosttest.WriteChunks(t, "chunks.bin", seqChunks(0, chunks*perChunk, perChunk, seqSpec{LogLen: 20})...)
				h := hosttest.StartHost(t, hosttest.HostOptions{Timeout: 60 * time.Second},
					"--flb-version", v, "-e", hosttest.PluginSO(t), "-c", conf, "-I", in, "--chunk-interval", "150")
				srv.WaitMessages(3, wstest.Timeout)
				if err := os.WriteFile(conf, []byte(good+"    Log_Level nonsense\n"), 0o644); err != nil {
					t.Fatal(err)
				}
				h.Signal(syscall.SIGHUP)
				if !h.WaitFor("Reloading is halted", 10*time.Second) {
					t.Fatalf("the reload did not fail")
				}
				r := h.Wait()
				r.RequireOK(t)
				s := r.Summary(t, "websocket_go.0")
				if r.Reloads != 0 || len(r.Registrations) != 2 {
					t.Errorf("%d reloads, %d registrations; want a second registration and no reload", r.Reloads, len(r.Registrations))
				}
				if s.OK != chunks || s.Retried != 0 || s.Dropped != 0 {
					t.Errorf("summary %+v: the running pipeline must deliver every chunk", s)
				}
				checkSeq(srv.Messages(), "json_lines", 0, chunks*perChunk).requireAll(t, "a failed hot reload")
				if r.CountLogs("info", "the hot reload failed: this pipeline goes on") != 1 {
					t.Errorf("the plugin does not say the failed reload leaves its pipeline running")
				}
				if t.Failed() {
					t.Log(tail(r.Stderr, 40))
				}
			})
		}
	}
}

// A hot reload while the server misbehaves ends within Grace + 1 s: the
// old pipeline's flush is cut once it makes no progress (RETRY), and
// Fluent Bit, which waits for every task of the old pipeline
// (Hot_Reload.Ensure_Thread_Safety), gets it back at once. Workers 0 and 2.
func TestReloadWithinGrace(t *testing.T) {
	t.Parallel()
	const grace = 5 * time.Second // the default
	for _, server := range []string{"never answers the handshake", "stops reading after the handshake", "nothing listening"} {
		for _, workers := range []int{0, 2} {
			t.Run(fmt.Sprintf("%s/workers %d", server, workers), func(t *testing.T) {
				t.Parallel()
				var url string
				var busy <-chan struct{}
				if server == "nothing listening" {
					url = "ws://" + closedPort(t) + "/"
				} else {
					url, busy = hangingServer(t, server != "never answers the handshake")
				}
				conf := hosttest.WriteConfig(t, "fluent-bit.conf", reloadConf(url, workers, "Format msgpack"))
				// 1 MB chunks, more than socket buffers hold, coming on.
				in := hosttest.WriteChunks(t, "chunks.bin", seqChunks(0, 40, 1, seqSpec{LogLen: 1 << 20})...)
				h := hosttest.StartHost(t, hosttest.HostOptions{Timeout: 90 * time.Second}, append([]string{"-e", hosttest.PluginSO(t), "-c", conf, "-I", in, "--chunk-interval", "200"}, faultRetryArgs...)...)
				waitBusy(t, h, busy)
				// From when the main thread takes up the reload: it looks
				// once a second when the signal lands on another thread
				// (see stopWithin).
				h.Signal(syscall.SIGHUP)
				if !h.WaitFor("reloading instance", 10*time.Second) {
					t.Fatalf("no reload began")
				}
				began := time.Now()
				if !h.WaitFor("flbhost: reloaded", 60*time.Second) {
					t.Fatalf("no reload")
				}
				took := time.Since(began)
				h.Signal(syscall.SIGTERM)
				r := h.Wait()
				if took > grace+time.Second {
					t.Errorf("the hot reload took %v, more than Grace %v + 1 s", took.Round(time.Millisecond), grace)
				}
				if r.ExitCode != 0 || strings.Contains(r.Stderr, "panic") {
					t.Errorf("exit %d, signal %q", r.ExitCode, r.Signal)
				}
				if s := r.Summary(t, "websocket_go.0"); s.OK != 0 || s.Errors != 0 {
					t.Errorf("summary %+v: no chunk is OK that the server never read, none is an error", s)
				}
				t.Logf("hot reload in %v", took.Round(time.Millisecond))
				if t.Failed() {
					t.Log(tail(r.Stderr, 40))
				}
			})
		}
	}
}

// waitCount waits until the host printed substr n times on stdout.
func waitCount(h *hosttest.RunningHost, substr string, n int, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for {
		if out, _ := h.Output(); strings.Count(out, substr) >= n {
			return true
		}
		select {
		case <-h.Done():
			out, _ := h.Output()
			return strings.Count(out, substr) >= n
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return false
		}
	}
}

// After hot reloads and a SIGCONT, on which Fluent Bit 2.1 and later
// install their signal handlers anew with signal(), SIGTERM still ends
// Fluent Bit within Grace + 1 s while the server hangs: the plugin put its
// SIGTERM handler back, with SA_ONSTACK, and Go's own SIGSEGV and SIGFPE
// handlers (a nil dereference stays a panic the plugin recovers from).
func TestStopAfterReload(t *testing.T) {
	t.Parallel()
	const grace = 5 * time.Second
	for _, v := range []string{"2.2", "3.2", "5.1"} {
		for _, workers := range []int{0, 2} {
			t.Run(fmt.Sprintf("%s/workers %d", v, workers), func(t *testing.T) {
				t.Parallel()
				url, busy := hangingServer(t, true)
				conf := hosttest.WriteConfig(t, "fluent-bit.conf", reloadConf(url, workers, "Format msgpack"))
				// A minute of chunks coming in, each one held up: the server
				// never answers the ping that confirms it.
				in := hosttest.WriteChunks(t, "chunks.bin", seqChunks(0, 300, 1, seqSpec{LogLen: 64 << 10})...)
				h := hosttest.StartHost(t, hosttest.HostOptions{Timeout: 90 * time.Second}, append([]string{"--flb-version", v, "-e", hosttest.PluginSO(t), "-c", conf, "-I", in, "--chunk-interval", "200"}, faultRetryArgs...)...)
				waitBusy(t, h, busy)
				for i := range 2 {
					// Fluent Bit refuses a SIGHUP until the reload before
					// is over: the signals line says it is.
					h.Signal(syscall.SIGHUP)
					if !waitCount(h, "flbhost: signals", i+1, 60*time.Second) || !waitCount(h, "flbhost: reloaded", i+1, 0) {
						out, errs := h.Output()
						t.Fatalf("no reload %d\n%s\n%s", i+1, tail(out, 20), tail(errs, 40))
					}
				}
				h.Signal(syscall.SIGCONT)
				if !h.WaitFor("caught signal (SIGCONT)", 10*time.Second) {
					t.Fatalf("SIGCONT not seen")
				}
				time.Sleep(time.Second) // the new pipeline's flush is blocked again
				r, took := stopWithin(t, h, grace)
				if len(r.Signals) == 0 {
					t.Fatalf("no signal dispositions\n%s", r.Dump())
				}
				for i, sigs := range r.Signals {
					for _, name := range []string{"SIGTERM", "SIGINT", "SIGQUIT", "SIGHUP", "SIGCONT"} {
						if h := sigs[name]; h.Handler != "other" || !h.OnStack {
							t.Errorf("dump %d: %s handled by %+v, want the plugin's handler on the signal stack", i+1, name, h)
						}
					}
					for _, name := range []string{"SIGSEGV", "SIGFPE"} {
						if h := sigs[name]; h.Handler != "other" {
							t.Errorf("dump %d: %s handled by %+v, want Go's handler", i+1, name, h)
						}
					}
				}
				t.Logf("exit %v after SIGTERM", took.Round(time.Millisecond))
				if t.Failed() {
					t.Log(tail(r.Stderr, 40))
				}
			})
		}
	}
}

// A stop cuts a stall, not progress: SIGTERM while a server that reads at
// 4 MB/s has 16 MB to go, each chunk a second of it, with Grace 10: every
// record arrives, no flush is retried. Workers 0 and 2.
func TestStopLetsProgressFinish(t *testing.T) {
	t.Parallel()
	const chunks, perChunk = 4, 4000 // about 4 MB a chunk
	for _, workers := range []int{0, 2} {
		t.Run(fmt.Sprintf("workers %d", workers), func(t *testing.T) {
			t.Parallel()
			srv := wstest.StartWSServer(t, wstest.WSOptions{ReadRate: 4 << 20})
			conf := hosttest.WriteConfig(t, "fluent-bit.conf", "[SERVICE]\n    Grace 10\n"+faultOutput(srv.URL(), "msgpack", "*", workers))
			in := hosttest.WriteChunks(t, "chunks.bin", seqChunks(0, chunks*perChunk, perChunk, seqSpec{LogLen: 1000})...)
			h := hosttest.StartHost(t, hosttest.HostOptions{Timeout: 60 * time.Second}, faultArgs(t, conf, "-I", in)...)
			srv.WaitMessages(1, wstest.Timeout)
			signalled := time.Now()
			h.Signal(syscall.SIGTERM)
			r := h.Wait()
			took := time.Since(signalled)
			r.RequireOK(t)
			if s := r.Summary(t, "websocket_go.0"); s.OK != chunks || s.Retried != 0 {
				t.Errorf("summary %+v: every chunk delivered, none cut", s)
			}
			checkSeq(srv.Messages(), "msgpack", 0, chunks*perChunk).requireAll(t, "a stop with a slow server")
			t.Logf("exit %v after SIGTERM", took.Round(time.Millisecond))
			if t.Failed() {
				t.Log(tail(r.Stderr, 40))
			}
		})
	}
}
