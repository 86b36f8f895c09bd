package main

import (
	"bufio"
	"bytes"
	"errors"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"
	"github.com/out-websocket/out_websocket/internal/wstest"
)

// TestClientFrameTypes sends msgpack as BINARY and JSON as valid UTF-8
// TEXT (the built-in sends TEXT for both).
// TestClientMessageInParts: a message written in parts, one of them larger
// than a frame, arrives as one message of all its bytes, and the next
// message as another.
func TestClientMessageInParts(t *testing.T) {
	srv := wstest.StartWSServer(t, wstest.WSOptions{})
	c, _ := newTestClient(t, testConfig(srv.URL()))
	big := bytes.Repeat([]byte("b"), writeBufferSize+100)
	parts := []struct {
		data string
		last bool
	}{{"a", false}, {string(big), false}, {"c", true}, {"next", true}}
	err := c.Send(websocket.TextMessage, func(write func([]byte, bool) error) error {
		for _, p := range parts {
			if err := write([]byte(p.data), p.last); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"a" + string(big) + "c", "next"} {
		if m := srv.Next(); m.Type() != websocket.TextMessage || string(m.Data) != want {
			t.Fatalf("got type %d, %d bytes; want a text message of %d bytes", m.Type(), len(m.Data), len(want))
		}
	}
}

func TestClientFrameTypes(t *testing.T) {
	srv := wstest.StartWSServer(t, wstest.WSOptions{})
	c, _ := newTestClient(t, testConfig(srv.URL()))
	for _, tc := range []struct {
		name string
		msg  string
		typ  int
	}{
		{"json", `{"log":"héllo ☃"}`, websocket.TextMessage},
		{"msgpack", "\x92\xd7\x00\x65\x00\x00\x00\x00\x00\x00\x00\x81\xa3log\xc4\x02\xff\xfe", websocket.BinaryMessage},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := c.Send(tc.typ, each([][]byte{[]byte(tc.msg)})); err != nil {
				t.Fatal(err)
			}
			m := srv.Next()
			if m.Type() != tc.typ || string(m.Data) != tc.msg {
				t.Fatalf("got type %d %q, want type %d %q", m.Type(), string(m.Data), tc.typ, tc.msg)
			}
			if m.Type() == websocket.TextMessage && !utf8.ValidString(string(m.Data)) {
				t.Errorf("text message is not UTF-8")
			}
		})
	}
}

// waitDead waits until the client's only connection is seen dead: at
// once, when that happened before the Send on it returned.
func waitDead(t *testing.T, c *client) {
	t.Helper()
	c.mu.Lock()
	if len(c.idle) == 0 {
		c.mu.Unlock()
		return
	}
	cn := c.idle[0]
	c.mu.Unlock()
	select {
	case <-cn.done:
	case <-time.After(testTimeout):
		t.Fatal("the client did not see the connection end")
	}
}

// TestClientServerEnds: when the server closes (1000, 1001, 1011) or
// drops the TCP connection between chunks, the reader notices at once and
// the next Send makes a new connection before writing, with no failed
// write and no retry.
func TestClientServerEnds(t *testing.T) {
	for _, tc := range []struct {
		name     string
		code     int // 0: drop the TCP connection
		reason   string
		wantWarn int
	}{
		{"normal closure", websocket.CloseNormalClosure, "bye", 0},
		{"going away", websocket.CloseGoingAway, "bye", 0},
		{"internal error", websocket.CloseInternalServerErr, "bye", 1},
		{"reason that forges a log line", websocket.ClosePolicyViolation, "bye\n[error] forged", 1},
		{"tcp dropped", 0, "", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := wstest.StartWSServer(t, wstest.WSOptions{Handle: func(ws *wstest.Conn) {
				typ, data, err := ws.ReadMessage()
				if err != nil {
					return
				}
				ws.Keep(typ, data)
				if ws.N > 1 {
					ws.ReadMessages()
					return
				}
				if tc.code == 0 {
					ws.NetConn().Close()
					return
				}
				ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(tc.code, tc.reason), time.Now().Add(time.Second))
				ws.ReadMessages() // until the client's close
			}})
			// The server ends the connection right after reading "one",
			// before it could answer a confirming ping, which would fail
			// this Send (TestClientConfirmsDelivery): here only the next
			// Send is under test.
			cfg := testConfig(srv.URL())
			cfg.ConfirmDelivery = false
			c, log := newTestClient(t, cfg)
			if err := c.Send(websocket.TextMessage, each([][]byte{[]byte("one")})); err != nil {
				t.Fatal(err)
			}
			srv.Next()
			waitDead(t, c)
			if err := c.Send(websocket.TextMessage, each([][]byte{[]byte("two")})); err != nil {
				t.Fatal(err)
			}
			if m := srv.Next(); string(m.Data) != "two" || m.Conn != 2 {
				t.Fatalf("got %+v, want two on connection 2", m)
			}
			if n := log.count("debug", "sending the chunk again"); n != 0 {
				t.Errorf("%d retries, want none: the dead connection should not be written to", n)
			}
			if n := log.count("warn", "closed the connection"); n != tc.wantWarn {
				t.Errorf("%d warnings about the close, want %d", n, tc.wantWarn)
			}
			for _, l := range log.all() {
				if strings.Contains(l, "\n") {
					t.Errorf("the server's close reason is in the log unquoted: %q", l)
				}
			}
		})
	}
}

// TestClientRetryOnReusedConn: a reused connection that breaks in the
// middle of a chunk costs no flush: the chunk goes again, whole, on a new
// connection. On a new connection the same break is an error.
func TestClientRetryOnReusedConn(t *testing.T) {
	for _, tc := range []struct {
		name    string
		warmup  bool // send a first chunk, so that the big one reuses the connection
		wantErr bool
	}{
		{"reused", true, false},
		{"fresh", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// More than the socket buffers hold (4 MiB here), so the
			// client is still writing when the server breaks.
			big := bytes.Repeat([]byte("b"), 6<<20)
			got := make(chan wstest.WSMessage, 10)
			var conns atomic.Int32
			url := wstest.RawServer(t, func(c net.Conn, br *bufio.Reader) {
				n := int(conns.Add(1))
				if n == 1 {
					// A small window, so the client is still writing when we break.
					c.(*net.TCPConn).SetReadBuffer(64 << 10)
				}
				if _, err := wstest.UpgradeByHand(c, br, wstest.AcceptKey); err != nil {
					return
				}
				var msg []byte
				for {
					c.SetDeadline(time.Now().Add(testTimeout)) // a loaded machine reads slowly
					f, err := wstest.ReadDataFrame(c, br)
					if err != nil {
						return
					}
					msg = append(msg, f.Payload...)
					if n == 1 && len(msg) > 64<<10 {
						c.(*net.TCPConn).SetLinger(0) // reset, not a clean FIN
						return
					}
					if f.Fin {
						got <- wstest.WSMessage{Binary: true, Data: msg, Conn: n}
						msg = nil
					}
				}
			})
			cfg := testConfig(url)
			cfg.WriteTimeout = 4 * testTimeout // only the break may fail a write
			c, log := newTestClient(t, cfg)
			if tc.warmup {
				if err := c.Send(websocket.BinaryMessage, each([][]byte{[]byte("warm")})); err != nil {
					t.Fatal(err)
				}
			}
			err := c.Send(websocket.BinaryMessage, each([][]byte{[]byte("first"), big}))
			if (err != nil) != tc.wantErr {
				t.Fatalf("Send: %v, want error %v", err, tc.wantErr)
			}
			retries := log.count("debug", "sending the chunk again")
			if tc.wantErr {
				if retries != 0 || conns.Load() != 1 {
					t.Fatalf("%d retries on %d connections, want none on 1", retries, conns.Load())
				}
				return
			}
			if retries != 1 {
				t.Errorf("%d retries, want 1", retries)
			}
			// The chunk again from its first message, on connection 2.
			var last wstest.WSMessage
			for last.Conn != 2 || len(last.Data) != len(big) {
				select {
				case last = <-got:
				case <-time.After(4 * testTimeout):
					t.Fatal("the big message never arrived whole on connection 2")
				}
				if last.Conn == 2 && len(last.Data) < len(big) && string(last.Data) != "first" {
					t.Fatalf("connection 2 got %q first", last.Data[:min(len(last.Data), 20)])
				}
			}
		})
	}
}

// TestClientConfirmsDelivery: with confirm_delivery a chunk counts as sent
// only once the server answered the ping sent after it, so it had read the
// chunk. A server that reads and then drops the connection, resets it, or
// stalls fails the Send, though every write succeeded; without
// confirm_delivery the same Sends succeed and the chunk may be lost.
func TestClientConfirmsDelivery(t *testing.T) {
	for _, tc := range []struct {
		name    string
		server  string // answers, ignores pings, drops, resets or stalls
		confirm bool
		wantErr string
	}{
		{"answered", "answers", true, ""},
		// Found by the ping after the handshake, before any data is sent.
		{"pings ignored", "ignores", true, "answered no ping within 1s (ping_timeout) after the handshake"},
		{"pings ignored, no confirmation", "ignores", false, ""},
		{"dropped after reading", "drops", true, "not confirmed"},
		{"reset unread", "resets", true, "not confirmed"},
		{"stalled", "stalls", true, "no pong within 300ms"},
		{"stalled, no confirmation", "stalls", false, ""},
		{"dropped, no confirmation", "drops", false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stop := make(chan struct{})
			url := wstest.RawServer(t, func(c net.Conn, br *bufio.Reader) {
				if _, err := wstest.UpgradeByHand(c, br, wstest.AcceptKey); err != nil {
					return
				}
				// Each but the one that ignores pings answers the ping
				// after the handshake, and fails only later.
				if tc.server != "ignores" && tc.confirm {
					if f, err := wstest.ReadFrame(br); err == nil {
						wstest.AnswerPing(c, f)
					}
				}
				switch tc.server {
				case "answers", "ignores", "drops":
					for {
						f, err := wstest.ReadFrame(br)
						if err != nil || f.Opcode == websocket.CloseMessage {
							return
						}
						switch {
						case tc.server == "answers":
							wstest.AnswerPing(c, f)
						case tc.server == "drops" && f.Fin && f.Opcode != websocket.PingMessage:
							return
						}
					}
				case "resets":
					time.Sleep(100 * time.Millisecond)
					c.(*net.TCPConn).SetLinger(0)
				case "stalls":
					<-stop
				}
			})
			t.Cleanup(func() { close(stop) })
			cfg := testConfig(url)
			cfg.WriteTimeout = 300 * time.Millisecond
			cfg.ConfirmDelivery = tc.confirm
			c, _ := newTestClient(t, cfg)
			// Fits in the socket buffers, so the write itself succeeds
			// however the server behaves.
			err := c.Send(websocket.BinaryMessage, each([][]byte{bytes.Repeat([]byte("a"), 64<<10)}))
			if !errorContains(err, tc.wantErr) {
				t.Fatalf("Send: %v, want %q", err, tc.wantErr)
			}
			if strings.Contains(tc.wantErr, "no pong") && !isTimeout(err) {
				t.Errorf("Send: %v is not a timeout", err)
			}
		})
	}
}

// TestClientServerNeverPongs: with confirm_delivery, a server that answers
// no ping fails the connection right after the handshake, before any
// message is written, as a connection failure: the next Send backs off
// instead of writing the chunk again.
func TestClientServerNeverPongs(t *testing.T) {
	srv := wstest.StartWSServer(t, wstest.WSOptions{NoPong: true})
	cfg := testConfig(srv.URL())
	cfg.PingTimeout = 200 * time.Millisecond
	c, log := newTestClient(t, cfg)
	chunk := each([][]byte{[]byte("record")})
	err := c.Send(websocket.BinaryMessage, chunk)
	if !errors.Is(err, errConnect) || !errorContains(err, "set confirm_delivery off") {
		t.Fatalf("Send: %v, want a connection failure naming confirm_delivery off", err)
	}
	if err := c.Send(websocket.BinaryMessage, chunk); !errors.Is(err, errServerDown) {
		t.Errorf("second Send: %v, want the backoff's", err)
	}
	if n, h := srv.MessageCount(), srv.Handshakes(); n != 0 || h != 1 {
		t.Errorf("%d messages on %d handshakes, want none on one", n, h)
	}
	if n := strings.Count(strings.Join(log.all(), "\n"), "confirm_delivery off"); n != 2 {
		t.Errorf("confirm_delivery off named in %d log lines, want the backoff's warning and its debug line", n)
	}
}

// TestClientPingPong: the reader answers the server's pings while the
// connection sits idle (the built-in never reads, so never answers).
func TestClientPingPong(t *testing.T) {
	pongs := make(chan string, 10)
	srv := wstest.StartWSServer(t, wstest.WSOptions{Handle: func(ws *wstest.Conn) {
		ws.SetPongHandler(func(data string) error { pongs <- data; return nil })
		go func() {
			for _, p := range []string{"p1", "p2", "p3"} {
				if ws.WriteControl(websocket.PingMessage, []byte(p), time.Now().Add(time.Second)) != nil {
					return
				}
			}
		}()
		for {
			if _, _, err := ws.ReadMessage(); err != nil {
				return
			}
		}
	}})
	c, _ := newTestClient(t, testConfig(srv.URL()))
	if err := c.Send(websocket.TextMessage, each([][]byte{[]byte("x")})); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"p1", "p2", "p3"} {
		select {
		case got := <-pongs:
			if got != want {
				t.Fatalf("pong %q, want %q", got, want)
			}
		case <-time.After(testTimeout):
			t.Fatalf("no pong for ping %s", want)
		}
	}
}

// TestClientKeepalive: with ping_interval the client pings; a server that
// answers keeps the connection, one that does not loses it within
// ping_timeout, and the next chunk goes on a new connection.
func TestClientKeepalive(t *testing.T) {
	for _, tc := range []struct {
		name     string
		answer   bool
		wantDead bool
	}{
		{"answered", true, false},
		{"unanswered", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pings := make(chan struct{}, 100)
			url := wstest.RawServer(t, func(c net.Conn, br *bufio.Reader) {
				if _, err := wstest.UpgradeByHand(c, br, wstest.AcceptKey); err != nil {
					return
				}
				for {
					f, err := wstest.ReadFrame(br)
					if err != nil || f.Opcode == websocket.CloseMessage {
						return
					}
					if f.Opcode == websocket.PingMessage {
						pings <- struct{}{}
						if tc.answer {
							wstest.WriteServerFrame(c, websocket.PongMessage, f.Payload)
						}
					}
				}
			})
			cfg := testConfig(url)
			cfg.PingInterval, cfg.PingTimeout = 20*time.Millisecond, 500*time.Millisecond
			// A server that never answers pings cannot confirm a chunk
			// either: only keepalive is under test here.
			cfg.ConfirmDelivery = tc.answer
			c, log := newTestClient(t, cfg)
			if err := c.Send(websocket.TextMessage, each([][]byte{[]byte("x")})); err != nil {
				t.Fatal(err)
			}
			c.mu.Lock()
			cn := c.idle[0]
			c.mu.Unlock()
			// Thirty pings span more than one ping_timeout.
			for i := range 30 {
				select {
				case <-pings:
				case <-cn.done:
					if !tc.wantDead {
						t.Fatalf("connection died after %d pings: %v", i, cn.err())
					}
				case <-time.After(testTimeout):
					t.Fatalf("ping %d never came", i+1)
				}
				if cn.dead() {
					break
				}
			}
			if cn.dead() != tc.wantDead {
				t.Fatalf("connection dead %v, want %v (%v)", cn.dead(), tc.wantDead, cn.err())
			}
			if n := log.count("warn", "no pong"); (n == 1) != tc.wantDead {
				t.Errorf("%d warnings about missing pongs", n)
			}
		})
	}
}

// TestCloseWaitsForKeepalive: a keepalive that found the server silent
// says so before the client's Close returns, never after: after the
// instance's exit Fluent Bit frees what its logger uses.
func TestCloseWaitsForKeepalive(t *testing.T) {
	srv := wstest.StartWSServer(t, wstest.WSOptions{NoPong: true})
	cfg := testConfig(srv.URL())
	cfg.ConfirmDelivery = false
	cfg.PingInterval, cfg.PingTimeout = 20*time.Millisecond, 50*time.Millisecond
	log := &heldLogger{held: make(chan struct{}), release: make(chan struct{})}
	c := newClient(cfg, log, newStop(defaultGrace))
	c.closeWait = 200 * time.Millisecond
	if err := c.Send(websocket.TextMessage, each([][]byte{[]byte("x")})); err != nil {
		t.Fatal(err)
	}
	select {
	case <-log.held: // the keepalive is logging that no pong came
	case <-time.After(testTimeout):
		t.Fatal("the keepalive never said the server is silent")
	}
	closed := make(chan struct{})
	go func() {
		c.Close()
		close(closed)
	}()
	select {
	case <-closed:
		t.Error("Close returned while the keepalive was still to log")
	case <-time.After(3 * c.closeWait):
	}
	close(log.release)
	<-closed
}

// heldLogger holds the first warning until release is closed; held is
// closed when it comes.
type heldLogger struct {
	recLogger
	once          sync.Once
	held, release chan struct{}
}

func (l *heldLogger) Warnf(format string, args ...any) {
	l.once.Do(func() {
		close(l.held)
		<-l.release
	})
	l.recLogger.Warnf(format, args...)
}

// TestClientServerMessages: what the server sends is read and dropped; a
// message above the read limit ends the connection with 1009.
func TestClientServerMessages(t *testing.T) {
	for _, tc := range []struct {
		name     string
		size     int
		wantCode int // the close code the server gets; 0 for none
	}{
		{"acks", 100, 0},
		{"too big", readLimit + 1, websocket.CloseMessageTooBig},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := wstest.StartWSServer(t, wstest.WSOptions{Handle: func(ws *wstest.Conn) {
				for {
					if _, _, err := ws.ReadMessage(); err != nil {
						return
					}
					ws.WriteMessage(websocket.BinaryMessage, make([]byte, tc.size))
				}
			}})
			// A message too big ends the connection before the pong that
			// would confirm the chunk comes: only the read limit is under
			// test here.
			cfg := testConfig(srv.URL())
			cfg.ConfirmDelivery = tc.wantCode == 0
			c, log := newTestClient(t, cfg)
			if err := c.Send(websocket.TextMessage, each([][]byte{[]byte("x")})); err != nil {
				t.Fatal(err)
			}
			if tc.wantCode == 0 {
				for range 3 {
					if err := c.Send(websocket.TextMessage, each([][]byte{[]byte("x")})); err != nil {
						t.Fatal(err)
					}
				}
				if srv.Handshakes() != 1 {
					t.Errorf("%d connections, want 1", srv.Handshakes())
				}
				return
			}
			if code, ok := srv.WaitCloseCode(1, testTimeout); !ok {
				t.Fatal("no close frame")
			} else if code != tc.wantCode {
				t.Fatalf("close code %d, want %d", code, tc.wantCode)
			}
			if log.count("warn", "larger than") != 1 {
				t.Errorf("the read limit is not logged")
			}
		})
	}
}

// TestClientWriteTimeout: a server that stops reading fails the Send
// within WriteTimeout instead of blocking the flush.
func TestClientWriteTimeout(t *testing.T) {
	stop := make(chan struct{})
	url := wstest.RawServer(t, func(c net.Conn, br *bufio.Reader) {
		c.(*net.TCPConn).SetReadBuffer(64 << 10)
		if _, err := wstest.UpgradeByHand(c, br, wstest.AcceptKey); err != nil {
			return
		}
		// Answer the ping after the handshake, then read nothing.
		if f, err := wstest.ReadFrame(br); err == nil {
			wstest.AnswerPing(c, f)
		}
		<-stop
	})
	t.Cleanup(func() { close(stop) })
	cfg := testConfig(url)
	cfg.WriteTimeout = 200 * time.Millisecond
	c, _ := newTestClient(t, cfg)
	start := time.Now()
	err := c.Send(websocket.BinaryMessage, each([][]byte{bytes.Repeat([]byte("x"), 16<<20)}))
	if err == nil || !isTimeout(err) {
		t.Fatalf("Send: %v, want a timeout", err)
	}
	// Without the deadline it would block for good; the margin is for
	// a loaded machine.
	if d := time.Since(start); d > cfg.WriteTimeout+testTimeout {
		t.Errorf("Send returned after %v, WriteTimeout is %v", d, cfg.WriteTimeout)
	}
}

// TestClientCloseFrame: Close ends each connection with a close frame
// 1000 (the built-in just drops the socket: servers see 1006).
func TestClientCloseFrame(t *testing.T) {
	got := make(chan wstest.Frame, 4)
	url := wstest.RawServer(t, func(c net.Conn, br *bufio.Reader) {
		if _, err := wstest.UpgradeByHand(c, br, wstest.AcceptKey); err != nil {
			return
		}
		for {
			f, err := wstest.ReadFrame(br)
			if err != nil {
				return
			}
			wstest.AnswerPing(c, f)
			if f.Opcode == websocket.CloseMessage {
				got <- f
				wstest.WriteServerFrame(c, websocket.CloseMessage, f.Payload)
				return
			}
		}
	})
	c, _ := newTestClient(t, testConfig(url))
	if err := c.Send(websocket.TextMessage, each([][]byte{[]byte("x")})); err != nil {
		t.Fatal(err)
	}
	c.Close()
	select {
	case f := <-got:
		if !f.Masked || len(f.Payload) < 2 || int(f.Payload[0])<<8|int(f.Payload[1]) != websocket.CloseNormalClosure {
			t.Fatalf("close frame %+v, want a masked 1000", f)
		}
	case <-time.After(testTimeout):
		t.Fatal("no close frame")
	}
	if err := c.Send(websocket.TextMessage, each([][]byte{[]byte("x")})); !errors.Is(err, errClientClosed) {
		t.Errorf("Send after Close: %v", err)
	}
}
