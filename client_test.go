package main

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
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
			rec := newRecorder()
			codes := make(chan int, 2)
			srv := startWSServer(t, func(ws *websocket.Conn, n int) {
				for {
					typ, data, err := ws.ReadMessage()
					var ce *websocket.CloseError
					if errors.As(err, &ce) {
						codes <- ce.Code
					}
					if err != nil {
						return
					}
					rec.ch <- message{typ, string(data), n}
				}
			})
			cfg := testConfig(srv.url)
			cfg.IdleInterval = tc.idle
			c, log := newTestClient(t, cfg)
			if err := c.Send([][]byte{[]byte("one")}, false); err != nil {
				t.Fatal(err)
			}
			time.Sleep(100 * time.Millisecond) // longer than the idle interval
			if err := c.Send([][]byte{[]byte("two")}, false); err != nil {
				t.Fatalf("Send after idling: %v", err)
			}
			rec.next(t)
			if m := rec.next(t); m.data != "two" || m.conn != tc.wantConns {
				t.Fatalf("got %+v, want two on connection %d", m, tc.wantConns)
			}
			if tc.wantConns == 2 {
				select {
				case code := <-codes:
					if code != websocket.CloseNormalClosure {
						t.Errorf("idle connection closed with %d, want 1000", code)
					}
				case <-time.After(testTimeout):
					t.Error("the idle connection got no close frame")
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
	rec := newRecorder()
	rec.ch = make(chan message, workers*sends*perChunk)
	srv := startWSServer(t, rec.read)
	c, _ := newTestClient(t, testConfig(srv.url))
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
				if err := c.Send(msgs, false); err != nil {
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
		m := rec.next(t)
		if len(m.data) < len(pad) {
			t.Fatalf("message of %d bytes, want more than %d", len(m.data), len(pad))
		}
		byConn[m.conn] = append(byConn[m.conn], m.data[:strings.LastIndexByte(m.data[:len(m.data)-len(pad)], '/')])
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
	srv := startWSServer(t, func(ws *websocket.Conn, n int) {
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
	})
	c, _ := newTestClient(t, testConfig(srv.url))
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for s := 0; ; s++ {
				err := c.Send([][]byte{[]byte("x")}, false)
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
	for i := range srv.handshakes() {
		select {
		case code := <-codes:
			if code != websocket.CloseNormalClosure {
				t.Errorf("connection closed with %d, want 1000", code)
			}
		case <-time.After(testTimeout):
			t.Fatalf("%d of %d connections got a close frame", i, srv.handshakes())
		}
	}
}

// BenchmarkClientSend sends one chunk of one message per operation to a
// loopback server, acknowledgement wait included.
func BenchmarkClientSend(b *testing.B) {
	for _, size := range []int{1 << 10, 64 << 10, 1 << 20} {
		b.Run(fmt.Sprintf("%dKiB", size>>10), func(b *testing.B) {
			srv := startWSServer(b, func(ws *websocket.Conn, n int) {
				for {
					if _, _, err := ws.NextReader(); err != nil {
						return
					}
				}
			})
			c := newClient(testConfig(srv.url), &recLogger{})
			defer c.Close()
			msg := [][]byte{make([]byte, size)}
			b.SetBytes(int64(size))
			for b.Loop() {
				if err := c.Send(msg, true); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
