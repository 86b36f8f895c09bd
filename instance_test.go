package main

import (
	"io"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/fluent/fluent-bit-go/output"
	"github.com/out-websocket/out_websocket/internal/chunktest"
	"github.com/out-websocket/out_websocket/internal/reference"
	"github.com/out-websocket/out_websocket/internal/wstest"
)

func referenceChunk(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile(reference.Chunk())
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestInstanceFlush: what a flush returns to Fluent Bit for a chunk that
// arrives, one whose end cannot be decoded (its records before are sent),
// and a server that is not there (the backoff says so, once).
func TestInstanceFlush(t *testing.T) {
	srv := wstest.StartWSServer(t, wstest.WSOptions{})
	chunk := referenceChunk(t)
	tests := []struct {
		name    string
		url     string
		chunk   []byte
		want    int
		wantLog [2]string // level and text of a line the flush must log
		sent    bool
	}{
		{"delivered", srv.URL(), chunk, output.FLB_OK, [2]string{"debug", "sent 60 records"}, true},
		{"truncated chunk", srv.URL(), chunk[:len(chunk)-3], output.FLB_ERROR, [2]string{"error", "sent its first 59 records; the rest cannot be decoded"}, true},
		{"undecodable chunk", srv.URL(), []byte{0xc1}, output.FLB_ERROR, [2]string{"error", "dropping chunk of 1 bytes"}, false},
		{"no server", "ws://127.0.0.1:1/", chunk, output.FLB_RETRY, [2]string{"warn", "cannot reach"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := loadConfig(mapSource{"uri": tt.url, "format": "json_lines"}, coreEndpoint{}, "")
			if err != nil {
				t.Fatal(err)
			}
			log := &recLogger{}
			in, err := newInstance(cfg, log, noMetrics{}, newStop(defaultGrace))
			if err != nil {
				t.Fatal(err)
			}
			defer in.close()
			if got := in.flush(tt.chunk, "tag"); got != tt.want {
				t.Fatalf("flush returned %d, want %d; log:\n%q", got, tt.want, log.all())
			}
			if log.count(tt.wantLog[0], tt.wantLog[1]) != 1 {
				t.Errorf("no %s line with %q; log:\n%q", tt.wantLog[0], tt.wantLog[1], log.all())
			}
			if tt.sent {
				if m := srv.Next(); m.Type() != 1 || len(string(m.Data)) == 0 {
					t.Errorf("got %+v", m)
				}
			}
		})
	}
}

// TestInstanceCloseLeavesNothing: after FLBPluginExitCtx's close, as on a
// hot reload, no goroutine of the instance is left, keepalive included.
func TestInstanceCloseLeavesNothing(t *testing.T) {
	srv := wstest.StartWSServer(t, wstest.WSOptions{})
	before := runtime.NumGoroutine()
	cfg, err := loadConfig(mapSource{"uri": srv.URL(), "ping_interval": "0.05"}, coreEndpoint{}, "")
	if err != nil {
		t.Fatal(err)
	}
	in, err := newInstance(cfg, &recLogger{}, noMetrics{}, newStop(defaultGrace))
	if err != nil {
		t.Fatal(err)
	}
	chunk := referenceChunk(t)
	done := make(chan int, 4)
	for range 4 {
		go func() { done <- in.flush(chunk, "tag") }()
	}
	for range 4 {
		if got := <-done; got != output.FLB_OK {
			t.Fatalf("flush returned %d", got)
		}
	}
	if n := runtime.NumGoroutine(); n <= before {
		t.Fatalf("%d goroutines with open connections, %d before: nothing to leak", n, before)
	}
	in.close()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines before, %d after close:\n%s", before, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// BenchmarkInstanceFlush is one flush of a 2 MB chunk of realistic records,
// encoding and sending included, to a loopback server that reads and
// discards: the plugin's cost per chunk without the host's.
func BenchmarkInstanceFlush(b *testing.B) {
	chunk := chunktest.SampleChunk(5200, 1)
	for _, format := range []string{"msgpack", "json_lines"} {
		for _, confirm := range []string{"on", "off"} {
			b.Run(format+"/confirm_delivery="+confirm, func(b *testing.B) {
				srv := wstest.StartWSServer(b, wstest.WSOptions{Handle: func(ws *wstest.Conn) {
					for {
						_, r, err := ws.NextReader()
						if err != nil {
							return
						}
						io.Copy(io.Discard, r)
					}
				}})
				cfg, err := loadConfig(mapSource{"uri": srv.URL(), "format": format, "confirm_delivery": confirm}, coreEndpoint{}, "")
				if err != nil {
					b.Fatal(err)
				}
				in, err := newInstance(cfg, &recLogger{}, noMetrics{}, newStop(defaultGrace))
				if err != nil {
					b.Fatal(err)
				}
				defer in.close()
				b.SetBytes(int64(len(chunk)))
				b.ReportAllocs()
				for b.Loop() {
					if got := in.flush(chunk, "tag"); got != output.FLB_OK {
						b.Fatalf("flush returned %d", got)
					}
				}
			})
		}
	}
}
