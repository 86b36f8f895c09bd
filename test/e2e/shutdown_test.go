package e2e

import (
	"bufio"
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/out-websocket/out_websocket/internal/hosttest"
	"github.com/out-websocket/out_websocket/internal/wstest"
)

// hangingServer is a loopback server that misbehaves until the test ends:
// it takes TCP connections and never answers the handshake, or completes
// the handshake and never reads. took is closed at its first connection.
func hangingServer(t *testing.T, handshake bool) (url string, took <-chan struct{}) {
	first, end := make(chan struct{}), make(chan struct{})
	var once sync.Once
	url = wstest.RawServer(t, func(c net.Conn, br *bufio.Reader) {
		once.Do(func() { close(first) })
		if handshake {
			if _, err := wstest.UpgradeByHand(c, br, wstest.AcceptKey); err != nil {
				return
			}
		}
		<-end
	})
	t.Cleanup(func() { close(end) }) // before RawServer's own cleanup
	return url, first
}

// SIGTERM while the server misbehaves: Fluent Bit (the host, with its
// default Grace of 5 s and its shutdown sequence) exits within Grace + 1 s,
// Workers 0 and 2, without a crash, and reports no chunk OK that the
// server never confirmed.
func TestShutdownWithinGrace(t *testing.T) {
	t.Parallel()
	const grace = 5 * time.Second
	for _, server := range []string{"never answers the handshake", "stops reading after the handshake", "nothing listening"} {
		for _, workers := range []int{0, 2} {
			t.Run(server+"/workers "+string(rune('0'+workers)), func(t *testing.T) {
				t.Parallel()
				var url string
				var busy <-chan struct{}
				switch server {
				case "nothing listening":
					url = "ws://" + closedPort(t) + "/"
				default:
					url, busy = hangingServer(t, server != "never answers the handshake")
				}
				conf := hosttest.WriteConfig(t, "fluent-bit.conf", faultOutput(url, "msgpack", "*", workers))
				// 8 chunks of 4 MB: more than socket buffers hold.
				chunks := seqChunks(0, 32, 4, seqSpec{LogLen: 1 << 20})
				h := hosttest.StartHost(t, hosttest.HostOptions{Timeout: 60 * time.Second}, faultArgs(t, conf, "-I", hosttest.WriteChunks(t, "chunks.bin", chunks...))...)
				waitBusy(t, h, busy)
				r, took := stopWithin(t, h, grace)
				if s := r.Summary(t, "websocket_go.0"); s.OK != 0 {
					t.Errorf("%d chunks reported OK that the server never read: %+v", s.OK, s)
				}
				if busy != nil && r.CountLogs("warn", "cannot reach") != 0 {
					t.Errorf("a connect cut short by the stop is logged as the server unreachable")
				}
				if r.CountLogs("info", "Fluent Bit is stopping") != 1 {
					t.Errorf("the plugin did not say once that it stops")
				}
				if r.CountLogs("info", "service has stopped") != 1 {
					t.Errorf("the host did not go through its shutdown")
				}
				t.Logf("exit %v after SIGTERM", took.Round(time.Millisecond))
				if t.Failed() {
					t.Log(tail(r.Stderr, 40))
				}
			})
		}
	}
}

// waitBusy waits until the plugin is stuck: the server took its
// connection, or (nothing listening) a flush failed; then a moment for
// the flush to block.
func waitBusy(t *testing.T, h *hosttest.RunningHost, busy <-chan struct{}) {
	t.Helper()
	if busy == nil {
		if !h.WaitFor("failed to flush", 10*time.Second) {
			t.Fatalf("no flush failed")
		}
		return
	}
	select {
	case <-busy:
	case <-time.After(10 * time.Second):
		t.Fatalf("the plugin never connected")
	}
	time.Sleep(300 * time.Millisecond)
}

// stopWithin sends SIGTERM and checks that the host exits cleanly within
// grace + 1 s of acting on it; it returns the result and that time.
// Fluent Bit's main thread acts on the signal at once when the signal
// lands on it, else at its next look, once a second (fluent-bit.c's
// sleep(1)): a loaded machine sees both, so the whole is bounded by
// grace + 2 s.
func stopWithin(t *testing.T, h *hosttest.RunningHost, grace time.Duration) (hosttest.HostResult, time.Duration) {
	t.Helper()
	signalled := time.Now()
	h.Signal(syscall.SIGTERM)
	h.WaitFor("caught signal (SIGTERM)", grace+time.Second)
	acted := time.Now()
	r := h.Wait()
	took := time.Since(acted)
	if took > grace+time.Second || time.Since(signalled) > grace+2*time.Second {
		t.Errorf("the host exited %v after acting on SIGTERM (%v after it), more than Grace %v + 1 s (+ 1 s)",
			took.Round(time.Millisecond), time.Since(signalled).Round(time.Millisecond), grace)
	}
	if r.ExitCode != 0 || strings.Contains(r.Stderr, "panic") {
		t.Errorf("exit %d, signal %q", r.ExitCode, r.Signal)
	}
	return r, took
}
