package e2e

// The plugin's connection handling seen from Fluent Bit's side, through
// the test host: what reaches the server and what each flush returned.

import (
	"fmt"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/out-websocket/out_websocket/internal/hosttest"
	"github.com/out-websocket/out_websocket/internal/reference"
	"github.com/out-websocket/out_websocket/internal/wstest"
)

// TestConnServerRestart: the server goes away (close 1001) in the middle
// of a stream and comes back on the same port. Flushes fail while it is
// down and Fluent Bit retries them; with Retry_Limit no_limits every record
// arrives, and the outage is logged once, not once per flush.
func TestConnServerRestart(t *testing.T) {
	const chunks, perChunk = 2000, 5
	srv := wstest.StartWSServer(t, wstest.WSOptions{})
	host, port := srv.HostPort()
	in := hosttest.WriteChunks(t, "chunks.bin", seqChunks(0, chunks*perChunk, perChunk, seqSpec{LogLen: 40})...)
	h := hosttest.StartHost(t, hosttest.HostOptions{Timeout: 60 * time.Second}, "-e", hosttest.PluginSO(t),
		"-o", fmt.Sprintf("websocket_go://%s:%d/", host, port), "-p", "format=json_lines",
		"-p", "retry_limit=no_limits", "--retry-wait", "100", "--retry-cap", "400", "-I", in)

	before := len(srv.WaitMessages(1, 10*time.Second))
	srv.Stop(websocket.CloseGoingAway)
	time.Sleep(300 * time.Millisecond) // down long enough for flushes to fail
	srv.Start()
	r := h.Wait()
	r.RequireOK(t)

	if before >= chunks {
		t.Fatalf("the whole stream arrived before the server stopped: make it longer")
	}
	s := r.Summary(t, "websocket_go.0")
	if s.Dropped != 0 || s.Errors != 0 || s.OK != chunks || s.Retried == 0 {
		t.Errorf("summary %+v: want %d ok, some retried, none dropped", s, chunks)
	}
	t.Logf("%d messages before the stop; summary %+v; %v", before, s, r.Duration.Round(time.Millisecond))
	checkSeq(srv.Messages(), "json_lines", 0, chunks*perChunk).requireAll(t, "after a restart")
	if n := r.CountLogs("warn", "cannot reach"); n != 1 {
		t.Errorf("%d warnings that the server is down, want 1\n%s", n, r.Dump())
	}
	if n := r.CountLogs("info", "reachable again"); n != 1 {
		t.Errorf("%d lines that the server is back, want 1", n)
	}
}

// TestConnIdleReconnect: with an idle_interval shorter than the pause
// between flushes every flush finds its connection too old, closes it and
// connects again before writing; no flush fails for it (the built-in
// fails the first flush after each quiet period).
func TestConnIdleReconnect(t *testing.T) {
	const chunks, perChunk = 20, 5
	srv := wstest.StartWSServer(t, wstest.WSOptions{})
	host, port := srv.HostPort()
	in := hosttest.WriteChunks(t, "chunks.bin", seqChunks(0, chunks*perChunk, perChunk, seqSpec{LogLen: 20})...)
	r := hosttest.RunPlugin(t, "-o", fmt.Sprintf("websocket_go://%s:%d/", host, port),
		"-p", "idle_interval=0.000001", "-p", "log_level=debug", "-I", in)
	r.RequireOK(t)
	if s := r.Summary(t, "websocket_go.0"); s.OK != chunks || s.Retried != 0 || s.Dropped != 0 {
		t.Fatalf("summary %+v: want %d ok, none retried\n%s", s, chunks, r.Dump())
	}
	srv.WaitMessages(chunks, 5*time.Second)
	checkSeq(srv.Messages(), "msgpack", 0, chunks*perChunk).requireAll(t, "idle reconnects")
	if n := r.CountLogs("debug", "idle for"); n < 2 || srv.Handshakes() < 2 {
		t.Errorf("%d idle closes and %d connections: want reconnects\n%s", n, srv.Handshakes(), r.Dump())
	}
}

// TestConnTLS: wss:// with the server's CA given by ws_tls.ca_file; without
// it the handshake fails and the log names the key that fixes it.
func TestConnTLS(t *testing.T) {
	ca := wstest.NewTestCA(t)
	for _, tc := range []struct {
		name   string
		caFile bool
	}{
		{"ca_file", true},
		{"untrusted", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := wstest.StartWSServer(t, wstest.WSOptions{TLS: ca.ServerTLS(t, "127.0.0.1")})
			args := []string{"-e", hosttest.PluginSO(t), "-o", "websocket_go", "-p", "uri=" + srv.URL(), "--retry-wait", "50"}
			if tc.caFile {
				args = append(args, "-p", "ws_tls.ca_file="+ca.File)
			}
			r := hosttest.RunHost(t, append(args, "-i", reference.Chunk())...)
			r.RequireOK(t)
			s := r.Summary(t, "websocket_go.0")
			if !tc.caFile {
				if s.OK != 0 || s.Dropped != 1 || r.CountLogs("warn", "set ws_tls.ca_file") == 0 {
					t.Fatalf("summary %+v: want the chunk dropped after retries, and a hint\n%s", s, r.Dump())
				}
				return
			}
			if s.OK != 1 || s.Retried != 0 {
				t.Fatalf("summary %+v\n%s", s, r.Dump())
			}
			if msgs := srv.WaitMessages(1, 5*time.Second); !msgs[0].Binary {
				t.Errorf("msgpack arrived in a TEXT frame")
			}
		})
	}
}
