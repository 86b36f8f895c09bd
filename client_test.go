package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/out-websocket/out_websocket/internal/wstest"
)

// TestClientIdleReconnect: a connection idle longer than IdleInterval is
// closed with 1000 and replaced before the next write, inside the same
// Send, which succeeds (the built-in fails that flush instead).
func TestClientIdleReconnect(t *testing.T) {
	for _, tc := range []struct {
		name      string
		idle      time.Duration
		wantConns int
	}{
		{"idle too long", 50 * time.Millisecond, 2},
		{"never idle", 0, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := wstest.StartWSServer(t, wstest.WSOptions{})
			cfg := testConfig(srv.URL())
			cfg.IdleInterval = tc.idle
			c, log := newTestClient(t, cfg)
			if err := c.Send(websocket.TextMessage, each([][]byte{[]byte("one")})); err != nil {
				t.Fatal(err)
			}
			time.Sleep(100 * time.Millisecond) // longer than the idle interval
			if err := c.Send(websocket.TextMessage, each([][]byte{[]byte("two")})); err != nil {
				t.Fatalf("Send after idling: %v", err)
			}
			srv.Next()
			if m := srv.Next(); string(m.Data) != "two" || m.Conn != tc.wantConns {
				t.Fatalf("got %+v, want two on connection %d", m, tc.wantConns)
			}
			if tc.wantConns == 2 {
				if code, ok := srv.WaitCloseCode(1, testTimeout); !ok {
					t.Error("the idle connection got no close frame")
				} else if code != websocket.CloseNormalClosure {
					t.Errorf("idle connection closed with %d, want 1000", code)
				}
			}
			if n := log.count("warn", ""); n != 0 {
				t.Errorf("%d warnings, want none", n)
			}
		})
	}
}

// TestClientConcurrentSends: overlapping Sends (Fluent Bit's Workers) each
// get a connection of their own: the messages of one chunk arrive together
// and in order, and no more connections are made than Sends overlap.
func TestClientConcurrentSends(t *testing.T) {
	const workers, sends, perChunk = 4, 10, 5
	srv := wstest.StartWSServer(t, wstest.WSOptions{})
	c, _ := newTestClient(t, testConfig(srv.URL()))
	// Large enough that each message takes several frames.
	pad := strings.Repeat(".", 70<<10)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for s := range sends {
				var msgs [][]byte
				for m := range perChunk {
					msgs = append(msgs, []byte(fmt.Sprintf("%d/%d/%d/%s", w, s, m, pad)))
				}
				if err := c.Send(websocket.TextMessage, each(msgs)); err != nil {
					t.Errorf("worker %d send %d: %v", w, s, err)
					return
				}
			}
		})
	}
	wg.Wait()
	c.Close()

	// Per connection, messages come in whole chunks: m = 0..4 of one (w, s).
	byConn := map[int][]string{}
	for range workers * sends * perChunk {
		m := srv.Next()
		data := string(m.Data)
		if len(data) < len(pad) {
			t.Fatalf("message of %d bytes, want more than %d", len(data), len(pad))
		}
		byConn[m.Conn] = append(byConn[m.Conn], data[:strings.LastIndexByte(data[:len(data)-len(pad)], '/')])
	}
	if len(byConn) > workers {
		t.Errorf("%d connections for %d concurrent senders", len(byConn), workers)
	}
	for conn, ids := range byConn {
		for i := 0; i < len(ids); i += perChunk {
			var w, s, m int
			fmt.Sscanf(ids[i], "%d/%d/%d", &w, &s, &m)
			for j := range perChunk {
				if want := fmt.Sprintf("%d/%d/%d", w, s, j); i+j >= len(ids) || ids[i+j] != want {
					t.Fatalf("connection %d: message %d is %v, want %s: chunks interleaved", conn, i+j, ids[i+j:min(i+j+1, len(ids))], want)
				}
			}
		}
	}
}

// TestClientCloseDuringSends: Close while Sends run is safe: each Send
// delivers or fails with errClientClosed, and every connection, busy or
// idle, ends with a close frame 1000.
func TestClientCloseDuringSends(t *testing.T) {
	codes := make(chan int, 100)
	srv := wstest.StartWSServer(t, wstest.WSOptions{Handle: func(ws *wstest.Conn) {
		for {
			_, _, err := ws.ReadMessage()
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				codes <- ce.Code
			}
			if err != nil {
				return
			}
		}
	}})
	c, _ := newTestClient(t, testConfig(srv.URL()))
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for s := 0; ; s++ {
				err := c.Send(websocket.TextMessage, each([][]byte{[]byte("x")}))
				if errors.Is(err, errClientClosed) {
					return
				}
				if err != nil {
					t.Errorf("worker %d send %d: %v", w, s, err)
					return
				}
				if s == 20 && w == 0 {
					c.Close()
				}
			}
		})
	}
	wg.Wait()
	for i := range srv.Handshakes() {
		select {
		case code := <-codes:
			if code != websocket.CloseNormalClosure {
				t.Errorf("connection closed with %d, want 1000", code)
			}
		case <-time.After(testTimeout):
			t.Fatalf("%d of %d connections got a close frame", i, srv.Handshakes())
		}
	}
}

// BenchmarkClientSend sends one chunk of one message per operation to a
// loopback server, acknowledgement wait included.
func BenchmarkClientSend(b *testing.B) {
	for _, size := range []int{1 << 10, 64 << 10, 1 << 20} {
		b.Run(fmt.Sprintf("%dKiB", size>>10), func(b *testing.B) {
			srv := wstest.StartWSServer(b, wstest.WSOptions{Handle: func(ws *wstest.Conn) {
				for {
					if _, _, err := ws.NextReader(); err != nil {
						return
					}
				}
			}})
			c := newClient(testConfig(srv.URL()), &recLogger{}, context.Background())
			defer c.Close()
			msg := [][]byte{make([]byte, size)}
			b.SetBytes(int64(size))
			for b.Loop() {
				if err := c.Send(websocket.BinaryMessage, each(msg)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestClientStopping: once Fluent Bit is stopping, a healthy server still
// gets every chunk (Fluent Bit flushes what it holds during its grace
// period), while a Send to a server that hangs is cut within stopWait and
// says so, and the next fails at once.
func TestClientStopping(t *testing.T) {
	hang := func(handshake bool) string {
		end := make(chan struct{})
		url := wstest.RawServer(t, func(c net.Conn, br *bufio.Reader) {
			if handshake {
				if _, err := wstest.UpgradeByHand(c, br, wstest.AcceptKey); err != nil {
					return
				}
			}
			<-end
		})
		t.Cleanup(func() { close(end) })
		return url
	}
	healthy := wstest.StartWSServer(t, wstest.WSOptions{})
	for _, tc := range []struct {
		name    string
		url     string
		message []byte
		wantErr error
	}{
		{"healthy server", healthy.URL(), []byte("after the signal"), nil},
		{"never answers the handshake", hang(false), []byte("x"), errStopping},
		{"stops reading after the handshake", hang(true), make([]byte, 32<<20), errStopping},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stop, cancel := context.WithCancelCause(context.Background())
			c := newClient(testConfig(tc.url), &recLogger{}, stop)
			c.closeWait = 200 * time.Millisecond
			t.Cleanup(c.Close)
			cancel(errStopping)
			start := time.Now()
			err := c.Send(websocket.BinaryMessage, func(write func([]byte, bool) error) error { return write(tc.message, true) })
			if took := time.Since(start); took > stopWait+time.Second {
				t.Errorf("Send took %v once stopping, more than stopWait %v + 1 s", took, stopWait)
			}
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Send: %v, want %v", err, tc.wantErr)
			}
			start = time.Now()
			err = c.Send(websocket.BinaryMessage, func(write func([]byte, bool) error) error { return write(tc.message, true) })
			if took := time.Since(start); !errors.Is(err, tc.wantErr) || err != nil && took > 100*time.Millisecond {
				t.Errorf("second Send: %v after %v, want %v (at once when the first was cut)", err, took, tc.wantErr)
			}
		})
	}
	if m := healthy.WaitMessages(1, testTimeout); string(m[0].Data) != "after the signal" {
		t.Errorf("the healthy server got %q", m[0].Data)
	}
}
