package e2e

import (
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// hangingServer is a loopback server that misbehaves for ever: it accepts
// TCP connections and never answers the handshake, or completes the
// handshake and never reads. It counts the connections it took.
type hangingServer struct {
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
	took  chan struct{} // closed at the first connection
	once  sync.Once
}

func startHangingServer(t *testing.T, handshake bool) *hangingServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &hangingServer{ln: ln, took: make(chan struct{})}
	t.Cleanup(s.close)
	if !handshake {
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				s.keep(c)
			}
		}()
		return s
	}
	up := &websocket.Upgrader{}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		s.keep(ws.NetConn())
	}), ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	return s
}

func (s *hangingServer) keep(c net.Conn) {
	s.mu.Lock()
	s.conns = append(s.conns, c)
	s.mu.Unlock()
	s.once.Do(func() { close(s.took) })
}

func (s *hangingServer) close() {
	s.ln.Close()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.conns {
		c.Close()
	}
}

func (s *hangingServer) URL() string { return "ws://" + s.ln.Addr().String() + "/" }

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
					s := startHangingServer(t, server != "never answers the handshake")
					url, busy = s.URL(), s.took
				}
				conf := writeConfig(t, "fluent-bit.conf", faultOutput(url, "msgpack", "*", workers))
				// 8 chunks of 4 MB: more than socket buffers hold.
				chunks := seqChunks(0, 32, 4, seqSpec{LogLen: 1 << 20})
				h := startHost(t, HostOptions{Timeout: 60 * time.Second}, faultArgs(t, conf, "-I", writeChunkFile(t, "chunks.bin", chunks))...)
				if busy != nil {
					select {
					case <-busy:
					case <-time.After(10 * time.Second):
						t.Fatalf("the plugin never connected")
					}
				} else if !h.WaitFor("failed to flush", 10*time.Second) {
					t.Fatalf("no flush failed")
				}
				time.Sleep(300 * time.Millisecond) // the flush is blocked now
				signalled := time.Now()
				h.Signal(syscall.SIGTERM)
				r := h.Wait()
				took := time.Since(signalled)
				if took > grace+time.Second {
					t.Errorf("the host exited %v after SIGTERM, more than Grace %v + 1 s", took.Round(time.Millisecond), grace)
				}
				if r.ExitCode != 0 || strings.Contains(r.Stderr, "panic") {
					t.Errorf("exit %d, signal %q", r.ExitCode, r.Signal)
				}
				if s := r.Summary(t, "websocket_go.0"); s.OK != 0 {
					t.Errorf("%d chunks reported OK that the server never read: %+v", s.OK, s)
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
