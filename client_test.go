package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
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
			c := newClient(testConfig(srv.URL()), &recLogger{}, newStop(defaultGrace))
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

// TestClientStopping: once Fluent Bit is stopping, a server that takes
// the chunk, even slowly, gets it whole (Fluent Bit flushes what it holds
// during its grace period), while a Send to a server that hangs is cut
// after stallBound without progress, says so, and the next fails at once.
func TestClientStopping(t *testing.T) {
	hang := func(handshake bool) string { return hangingURL(t, handshake) }
	healthy := wstest.StartWSServer(t, wstest.WSOptions{})
	// 6 MB at 3 MB/s: two seconds, four times stallBound, of a transfer
	// that never stops moving.
	slow := wstest.StartWSServer(t, wstest.WSOptions{ReadRate: 3 << 20})
	for _, tc := range []struct {
		name    string
		url     string
		message []byte
		wantErr error
	}{
		{"healthy server", healthy.URL(), []byte("after the signal"), nil},
		{"slow server", slow.URL(), make([]byte, 6<<20), nil},
		{"never answers the handshake", hang(false), []byte("x"), errStalled},
		{"stops reading after the handshake", hang(true), make([]byte, 32<<20), errStalled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := newStop(time.Minute)
			log := &recLogger{}
			c := newClient(testConfig(tc.url), log, st)
			c.closeWait = 200 * time.Millisecond
			closeAtEnd(t, log, c.Close)
			st.begin()
			t.Cleanup(st.end)
			start := time.Now()
			err := c.Send(websocket.BinaryMessage, func(write func([]byte, bool) error) error { return write(tc.message, true) })
			if took := time.Since(start); tc.wantErr != nil && took > stallBound+2*time.Second {
				t.Errorf("Send took %v once stopping, more than stallBound %v + 2 s", took, stallBound)
			}
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Send: %v, want %v", err, tc.wantErr)
			}
			start = time.Now()
			err = c.Send(websocket.BinaryMessage, func(write func([]byte, bool) error) error { return write([]byte("next"), true) })
			if took := time.Since(start); !errors.Is(err, tc.wantErr) || err != nil && took > 100*time.Millisecond {
				t.Errorf("second Send: %v after %v, want %v (at once when the first was cut)", err, took, tc.wantErr)
			}
			if n := log.count("info", "no progress"); (tc.wantErr != nil) != (n == 1) {
				t.Errorf("%d lines say a transfer was cut for no progress", n)
			}
		})
	}
	if m := healthy.WaitMessages(1, testTimeout); string(m[0].Data) != "after the signal" {
		t.Errorf("the healthy server got %q", m[0].Data)
	}
	if m := slow.WaitMessages(2, testTimeout); len(m[0].Data) != 6<<20 {
		t.Errorf("the slow server got %d bytes, want %d", len(m[0].Data), 6<<20)
	}
}

// TestStopSeesDrain: a chunk written whole into a buffer on the way (a
// proxy that reads all it is sent, a server's grown socket buffer) leaves
// nothing in the plugin's socket buffer to drain, and the server then
// reads it slowly. The pongs to the pings written between frames show it
// reads, and a stop lets the transfer finish.
func TestStopSeesDrain(t *testing.T) {
	const size = 1 << 20
	slow := wstest.StartWSServer(t, wstest.WSOptions{ReadRate: 512 << 10}) // two seconds
	host, port := slow.HostPort()
	proxy, took := bufferingProxy(t, net.JoinHostPort(host, fmt.Sprint(port)))
	st := newStop(time.Minute)
	log := &recLogger{}
	c := newClient(testConfig("ws://"+proxy+"/"), log, st)
	c.closeWait = 200 * time.Millisecond
	closeAtEnd(t, log, c.Close)
	t.Cleanup(st.end)
	done := make(chan error, 1)
	go func() { done <- c.Send(websocket.BinaryMessage, each([][]byte{make([]byte, size)})) }()
	deadline := time.Now().Add(testTimeout)
	for took.Load() < size && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if took.Load() < size {
		t.Fatalf("the proxy took %d bytes, not the whole chunk", took.Load())
	}
	st.begin()
	if err := <-done; err != nil {
		t.Errorf("Send: %v; the server was reading all along", err)
	}
}

// bufferingProxy forwards TCP connections to addr, reading all a client
// sends at once into memory, whatever pace the server reads at; took
// counts those bytes.
func bufferingProxy(t *testing.T, to string) (addr string, took *atomic.Int64) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	took = new(atomic.Int64)
	go func() {
		for {
			client, err := ln.Accept()
			if err != nil {
				return
			}
			server, err := net.Dial("tcp", to)
			if err != nil {
				client.Close()
				continue
			}
			t.Cleanup(func() { client.Close(); server.Close() })
			pending := make(chan []byte, 1<<16)
			go func() {
				defer close(pending)
				for {
					b := make([]byte, 32<<10)
					n, err := client.Read(b)
					took.Add(int64(n))
					if n > 0 {
						pending <- b[:n]
					}
					if err != nil {
						return
					}
				}
			}()
			go func() {
				for b := range pending {
					if _, err := server.Write(b); err != nil {
						return
					}
				}
			}()
			go io.Copy(client, server)
		}
	}()
	return ln.Addr().String(), took
}

// TestClientGraceOver: at the end of the grace period a transfer still in
// flight is cut, however it progresses, and later Sends fail at once; a
// stop called off (a hot reload that failed) leaves the client as before.
func TestClientGraceOver(t *testing.T) {
	slow := wstest.StartWSServer(t, wstest.WSOptions{ReadRate: 1 << 20})
	st := newStop(time.Second)
	log := &recLogger{}
	c := newClient(testConfig(slow.URL()), log, st)
	c.closeWait = 200 * time.Millisecond
	closeAtEnd(t, log, c.Close)
	st.begin()
	t.Cleanup(st.end)
	// 8 MB at 1 MB/s: far more than the grace period.
	err := c.Send(websocket.BinaryMessage, each([][]byte{make([]byte, 8<<20)}))
	if !errors.Is(err, errGraceOver) {
		t.Fatalf("Send: %v, want %v", err, errGraceOver)
	}
	if err := c.Send(websocket.BinaryMessage, each([][]byte{[]byte("x")})); !errors.Is(err, errGraceOver) {
		t.Errorf("Send after the grace period: %v, want %v", err, errGraceOver)
	}
	if log.count("info", "grace period is over") != 1 || log.count("info", "no progress") != 0 {
		t.Errorf("the log does not say once that the grace period ended the transfer")
	}
}

// TestStopCalledOff: a stop called off before its end (a hot reload that
// failed) forgets its cuts: the next Send tries the server again, and a
// later stop starts afresh.
func TestStopCalledOff(t *testing.T) {
	// A server that never reads, nor answers pings: only writes block.
	cfg := testConfig(hangingURL(t, true))
	cfg.ConfirmDelivery = false
	cfg.WriteTimeout = 2 * time.Second
	st := newStop(time.Minute)
	log := &recLogger{}
	c := newClient(cfg, log, st)
	c.closeWait = 200 * time.Millisecond
	closeAtEnd(t, log, c.Close)
	st.begin()
	t.Cleanup(st.end)
	big := each([][]byte{make([]byte, 32<<20)})
	if err := c.Send(websocket.BinaryMessage, big); !errors.Is(err, errStalled) {
		t.Fatalf("Send once stopping: %v, want %v", err, errStalled)
	}
	if !st.cancel() {
		t.Fatal("cancel found no stop")
	}
	start := time.Now()
	err := c.Send(websocket.BinaryMessage, big)
	if took := time.Since(start); errors.Is(err, errStopping) || took < time.Second {
		t.Errorf("Send after the stop was called off: %v after %v; want write_timeout's error", err, took)
	}
	st.begin()
	if err := c.Send(websocket.BinaryMessage, big); !errors.Is(err, errStalled) {
		t.Errorf("Send once stopping again: %v, want %v", err, errStalled)
	}
}

// A connect cut because Fluent Bit stops ends the attempt the backoff
// allowed: once the stop is called off, a Send may connect again.
func TestStopReleasesBackoff(t *testing.T) {
	hang := hangingURL(t, false)
	st := newStop(time.Minute)
	log := &recLogger{}
	c := newClient(testConfig(hang), log, st)
	closeAtEnd(t, log, c.Close)
	c.backoff.failure(errors.New("earlier failure"))
	c.backoff.next = time.Time{}
	st.begin()
	t.Cleanup(st.end)
	if err := c.Send(websocket.BinaryMessage, each([][]byte{[]byte("x")})); !errors.Is(err, errStalled) {
		t.Fatalf("Send once stopping: %v, want %v", err, errStalled)
	}
	if err := c.backoff.allow(); err != nil {
		t.Errorf("after a connect cut by the stop, the backoff refuses: %v", err)
	}
}

// hangingURL is a server that, until the test ends, takes connections and
// never answers the handshake, or answers it and never reads.
func hangingURL(t *testing.T, handshake bool) string {
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

// newTestNodes makes the nodes of one instance over urls, each a client
// closed when the test ends, sharing one log; stop is how they stop.
func newTestNodes(t *testing.T, stop *stop, urls ...string) (*nodes, *recLogger) {
	log := &recLogger{}
	var endpoints []nodeConfig
	for i, u := range urls {
		n := nodeConfig{Name: fmt.Sprintf("n%d", i+1), Conn: testConfig(u)}
		n.Conn.LogURL += " (node " + n.Name + ")"
		endpoints = append(endpoints, n)
	}
	ns := newNodes(endpoints, log, noMetrics{}, stop)
	for _, c := range ns.clients {
		c.closeWait = 200 * time.Millisecond
	}
	closeAtEnd(t, log, ns.Close)
	return ns, log
}

// Each Send starts at the next node; a node that cannot be reached is
// skipped within the Send, with its own backoff, and said once to be down;
// only when every node fails does Send fail, quietly (the backoffs said it).
func TestNodesRoundRobinAndFailover(t *testing.T) {
	var srvs []*wstest.WSServer
	var urls []string
	for range 3 {
		s := wstest.StartWSServer(t, wstest.WSOptions{})
		srvs = append(srvs, s)
		urls = append(urls, s.URL())
	}
	ns, log := newTestNodes(t, newStop(defaultGrace), urls...)
	for i := range 6 {
		if err := ns.Send(websocket.TextMessage, each([][]byte{[]byte(fmt.Sprint(i))})); err != nil {
			t.Fatal(err)
		}
	}
	for i, s := range srvs {
		msgs := s.WaitMessages(2, testTimeout)
		if string(msgs[0].Data) != fmt.Sprint(i) || string(msgs[1].Data) != fmt.Sprint(i+3) || s.Handshakes() != 1 {
			t.Errorf("node n%d got %q, %q on %d connections; want %d and %d on one", i+1, msgs[0].Data, msgs[1].Data, s.Handshakes(), i, i+3)
		}
	}

	// n2 is down (and stays so for this test, its backoff long); the next
	// Send starts at n1. Its share goes to n1 and n3 alike: n3 takes the
	// Send that found n2 down, then flushes skip it in turn.
	srvs[1].Stop(0)
	ns.clients[1].backoff.min = 10 * time.Second
	for i := range 6 {
		if err := ns.Send(websocket.TextMessage, each([][]byte{[]byte("after")})); err != nil {
			t.Fatalf("Send %d with one node down: %v", i, err)
		}
	}
	if n1, n3 := len(srvs[0].Messages()), len(srvs[2].Messages()); n1 != 2+3 || n3 != 2+3 {
		t.Errorf("n1 and n3 hold %d and %d messages, want 5 each", n1, n3)
	}
	if n := log.count("warn", "(node n2)"); n != 1 || log.count("warn", "cannot reach") != 1 || log.count("warn", "flushes skip it meanwhile") != 1 {
		t.Errorf("%d warnings name n2, want one saying it is down and skipped", n)
	}

	srvs[0].Stop(0)
	srvs[2].Stop(0)
	err := ns.Send(websocket.TextMessage, each([][]byte{[]byte("lost")}))
	if err == nil || !quietFailure(err) || !strings.Contains(err.Error(), "every node failed") {
		t.Fatalf("Send with every node down: %v (quiet %v)", err, quietFailure(err))
	}
	srvs[2].Start()
	if err := sendWithin(ns, testTimeout); err != nil {
		t.Fatalf("n3 came back, yet: %v", err)
	}
	if n := log.count("info", "(node n3) is reachable again"); n != 1 {
		t.Errorf("%d lines say n3 is back, want 1", n)
	}
}

// sendWithin retries a Send until a node takes it (the backoff of a node
// that came back may still be waiting).
func sendWithin(ns *nodes, d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		err := ns.Send(websocket.TextMessage, each([][]byte{[]byte("back")}))
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A chunk whose confirmation fails on one node (the server reads it, then
// drops the connection before its pong) goes whole to the next node within
// the same Send, with a warning naming the first.
func TestNodesResendWholeChunk(t *testing.T) {
	dropper := wstest.StartWSServer(t, wstest.WSOptions{Handle: func(c *wstest.Conn) {
		c.ReadMessage()
		c.ReadMessage()
		c.UnderlyingConn().Close()
	}})
	good := wstest.StartWSServer(t, wstest.WSOptions{})
	ns, log := newTestNodes(t, newStop(defaultGrace), dropper.URL(), good.URL())
	if err := ns.Send(websocket.TextMessage, each([][]byte{[]byte("a"), []byte("b")})); err != nil {
		t.Fatal(err)
	}
	msgs := good.WaitMessages(2, testTimeout)
	if string(msgs[0].Data) != "a" || string(msgs[1].Data) != "b" {
		t.Errorf("the second node got %q, %q; want the whole chunk", msgs[0].Data, msgs[1].Data)
	}
	if log.count("warn", "(node n1)") != 1 || log.count("warn", "the chunk goes to "+good.URL()+" (node n2)") != 1 {
		t.Errorf("no warning naming n1 and saying the chunk went to n2")
	}
}

// Once Fluent Bit stops, a flush over nodes that hang cuts each after
// stallBound without progress and hands the chunk to the next; a node cut
// before is skipped at once; a healthy node takes every chunk, 32 MB ones
// included, however long that takes on a busy machine.
func TestNodesStopping(t *testing.T) {
	healthy := wstest.StartWSServer(t, wstest.WSOptions{})
	st := newStop(time.Minute)
	var tries [2]atomic.Int32
	end := make(chan struct{})
	var hanging []string
	for i, handshake := range []bool{false, true} {
		hanging = append(hanging, wstest.RawServer(t, func(c net.Conn, br *bufio.Reader) {
			tries[i].Add(1)
			if handshake {
				if _, err := wstest.UpgradeByHand(c, br, wstest.AcceptKey); err != nil {
					return
				}
			}
			<-end
		}))
	}
	t.Cleanup(func() { close(end) })
	ns, log := newTestNodes(t, st, hanging[0], hanging[1], healthy.URL())
	st.begin()
	t.Cleanup(st.end)
	for i := range 4 { // starting at n1, n2, n3, n1
		if err := ns.Send(websocket.BinaryMessage, each([][]byte{make([]byte, 32<<20)})); err != nil {
			t.Errorf("flush %d: %v; the healthy node should take it", i+1, err)
		}
	}
	if n := len(healthy.WaitMessages(4, testTimeout)); n != 4 {
		t.Errorf("the healthy node got %d chunks, want 4", n)
	}
	if n1, n2 := tries[0].Load(), tries[1].Load(); n1 != 1 || n2 != 1 {
		t.Errorf("the hanging nodes got %d and %d connections, want one each: once cut, a node is skipped", n1, n2)
	}
	if n := log.count("info", "no progress"); n != 2 {
		t.Errorf("%d lines say a node was cut for no progress, want 2", n)
	}
}
