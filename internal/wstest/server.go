// Package wstest is the WebSocket side of the tests, as net/http/httptest
// is the HTTP side of the standard library's: WSServer, a loopback server
// that keeps what it reads (or hands each connection to a handler), helpers
// for tests that speak RFC 6455 frame by frame (RawServer, ReadFrame), and
// TestCA, a certificate authority made at test time.
package wstest

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// Timeout bounds the waits of this package, generously: a machine busy
// with other tests can starve a loopback server for seconds.
const Timeout = 10 * time.Second

// WSOptions shape a WSServer. The zero value is a plain ws:// server on a
// free loopback port that accepts every handshake on any path.
type WSOptions struct {
	// TLS makes it a wss:// server (see TestCA.ServerTLS).
	TLS *tls.Config
	// Path, when set, is the only path it upgrades; others get 404.
	Path string
	// Subprotocols the server picks from, in its order of preference.
	Subprotocols []string
	// Status, when not 0, refuses every handshake with this HTTP status.
	Status int
	// Authorize, when set, sees each handshake's request first: it
	// returns the HTTP status to refuse it with, or 0 to accept it.
	Authorize func(r *http.Request) int
	// Addr is the host:port to listen on; default a free loopback port.
	Addr string
	// Handle, when set, serves each accepted connection instead of the
	// server's own reader (Conn.ReadMessages), which it may call.
	Handle func(c *Conn)

	// Faults, counted over the server's life (all connections, restarts
	// included). CloseEvery, when not 0, sends a close frame with
	// CloseCode (default 1001, going away) after every CloseEvery-th
	// message, then reads on until the client's close, as Stop does.
	CloseEvery int
	CloseCode  int
	// StallFor, when not 0, stops reading for that long after the first
	// message (once per server), like a server too busy to read.
	StallFor time.Duration
	// NoPong drops every ping unanswered, as some proxies and frameworks
	// do, though RFC 6455 5.5.2 says a pong must answer each.
	NoPong bool
	// ReadRate, when not 0, reads each connection at that many bytes a
	// second, like a server behind a slow link: the client's writes
	// block, yet every moment some bytes go through.
	ReadRate int
}

// WSMessage is one message a WSServer read.
type WSMessage struct {
	Binary bool
	Data   []byte
	// Conn numbers the connection that carried it: 1 for the first
	// handshake the server accepted, counting across restarts.
	Conn int
}

// Type is the message's type as gorilla/websocket numbers it.
func (m WSMessage) Type() int {
	if m.Binary {
		return websocket.BinaryMessage
	}
	return websocket.TextMessage
}

// Conn is one accepted connection, as WSOptions.Handle gets it.
type Conn struct {
	*websocket.Conn
	// N numbers the connection: 1 for the first handshake the server
	// accepted, counting across restarts.
	N       int
	Request *http.Request
	s       *WSServer
}

// WSServer is a WebSocket server on loopback for tests. It keeps every
// message it reads and every handshake's request headers, and can be
// stopped and started again on the same port to play a server that
// restarts. Started by StartWSServer, it stops by itself when the test ends.
type WSServer struct {
	t    testing.TB // nil for a server of NewWSServer
	opts WSOptions
	addr string // host:port, kept across restarts

	mu        sync.Mutex
	changed   chan struct{} // closed and replaced whenever msgs, headers or conns change
	msgs      []WSMessage
	next      int // the message Next returns
	headers   []http.Header
	closes    map[int]int // close code each connection's client sent, by Conn.N
	ln        net.Listener
	srv       *http.Server
	conns     map[*websocket.Conn]chan struct{} // closed when its handler ends
	accepting bool
	stalled   bool // StallFor was played
}

// StartWSServer starts a server that stops when the test ends; it fails the
// test if it cannot listen.
func StartWSServer(t testing.TB, opts WSOptions) *WSServer {
	t.Helper()
	s, err := NewWSServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	s.t = t
	t.Cleanup(func() { s.Stop(0) })
	return s
}

// NewWSServer starts a server for a program rather than a test (the
// benchmark, the demo): it runs until Stop, and its waits (WaitFor,
// WaitMessages, Next) are not for it.
func NewWSServer(opts WSOptions) (*WSServer, error) {
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	s := &WSServer{opts: opts, addr: opts.Addr, changed: make(chan struct{}),
		conns: map[*websocket.Conn]chan struct{}{}, closes: map[int]int{}}
	return s, s.listen()
}

// URL is the ws:// (or wss://) URL of the server's path ("/" when any).
func (s *WSServer) URL() string {
	scheme := "ws"
	if s.opts.TLS != nil {
		scheme = "wss"
	}
	path := s.opts.Path
	if path == "" {
		path = "/"
	}
	return scheme + "://" + s.addr + path
}

// HostPort is the address as Fluent Bit's Host and Port keys want it.
func (s *WSServer) HostPort() (string, int) {
	host, port, _ := net.SplitHostPort(s.addr)
	p, _ := strconv.Atoi(port)
	return host, p
}

// Start listens again on the server's port after Stop (a restart).
func (s *WSServer) Start() {
	s.t.Helper()
	if err := s.listen(); err != nil {
		s.t.Fatal(err)
	}
}

// Listen listens on addr, trying for up to a second: when the port was
// ours a moment ago (a restart), a connection lingering on it can make the
// first tries fail.
func Listen(addr string) (net.Listener, error) {
	var ln net.Listener
	var err error
	for i := 0; i < 50; i++ {
		if ln, err = net.Listen("tcp", addr); err == nil {
			return ln, nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil, err
}

func (s *WSServer) listen() error {
	ln, err := Listen(s.addr)
	if err != nil {
		return fmt.Errorf("wsserver: listen on %s: %w", s.addr, err)
	}
	s.addr = ln.Addr().String()
	if s.opts.TLS != nil {
		ln = tls.NewListener(ln, s.opts.TLS)
	}
	up := &websocket.Upgrader{
		// Large messages (the benchmark's are megabytes) in few reads.
		ReadBufferSize:    64 << 10,
		HandshakeTimeout:  Timeout,
		Subprotocols:      s.opts.Subprotocols,
		EnableCompression: true,
		CheckOrigin:       func(*http.Request) bool { return true },
	}
	srv := &http.Server{
		Handler:           http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { s.serve(up, w, r) }),
		ReadHeaderTimeout: Timeout,
		// TLS tests fail handshakes on purpose; the server need not say so.
		ErrorLog: log.New(io.Discard, "", 0),
	}
	s.mu.Lock()
	s.ln, s.srv, s.accepting = ln, srv, true
	s.mu.Unlock()
	go srv.Serve(ln)
	return nil
}

func (s *WSServer) serve(up *websocket.Upgrader, w http.ResponseWriter, r *http.Request) {
	if s.opts.Path != "" && r.URL.Path != s.opts.Path {
		http.NotFound(w, r)
		return
	}
	s.mu.Lock()
	status := s.opts.Status
	s.mu.Unlock()
	if status == 0 && s.opts.Authorize != nil {
		status = s.opts.Authorize(r)
	}
	if status != 0 {
		http.Error(w, http.StatusText(status), status)
		return
	}
	ws, err := up.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	done := make(chan struct{})
	defer close(done)
	defer ws.Close()
	s.mu.Lock()
	if !s.accepting {
		s.mu.Unlock()
		return
	}
	s.conns[ws] = done
	s.headers = append(s.headers, r.Header.Clone())
	c := &Conn{Conn: ws, N: len(s.headers), Request: r, s: s}
	if s.opts.NoPong {
		ws.SetPingHandler(func(string) error { return nil })
	}
	s.notifyLocked()
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.conns, ws)
		s.notifyLocked()
		s.mu.Unlock()
	}()
	if s.opts.Handle != nil {
		s.opts.Handle(c)
		return
	}
	c.ReadMessages()
}

// ReadMessages keeps every message the connection carries until it ends,
// playing the server's faults; gorilla answers pings and close frames
// while it reads.
func (c *Conn) ReadMessages() {
	c.SetReadLimit(64 << 20)
	for {
		typ, data, err := c.ReadMessage()
		if err != nil {
			return
		}
		n, stall := c.Keep(typ, data)
		c.s.fault(c.Conn, n, stall)
	}
}

// ReadMessage is websocket.Conn.ReadMessage, at WSOptions.ReadRate, that
// also notes the code of the client's close frame, for WaitCloseCode.
func (c *Conn) ReadMessage() (int, []byte, error) {
	typ, r, err := c.Conn.NextReader()
	var data []byte
	if err == nil {
		if rate := c.s.opts.ReadRate; rate > 0 {
			r = &paced{r: r, rate: rate, start: time.Now()}
		}
		data, err = io.ReadAll(r)
	}
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		c.s.mu.Lock()
		c.s.closes[c.N] = ce.Code
		c.s.notifyLocked()
		c.s.mu.Unlock()
	}
	return typ, data, err
}

// paced reads at rate bytes a second, a twentieth of a second's worth at
// a time.
type paced struct {
	r     io.Reader
	rate  int
	start time.Time
	n     int
}

func (p *paced) Read(b []byte) (int, error) {
	if piece := max(p.rate/20, 1); len(b) > piece {
		b = b[:piece]
	}
	n, err := p.r.Read(b)
	p.n += n
	time.Sleep(time.Until(p.start.Add(time.Duration(float64(p.n) / float64(p.rate) * float64(time.Second)))))
	return n, err
}

// Keep adds a message to those the server read, as from this connection.
// It returns how many the server has, and whether the connection is to
// play WSOptions.StallFor now.
func (c *Conn) Keep(typ int, data []byte) (n int, stall bool) {
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	s.msgs = append(s.msgs, WSMessage{Binary: typ == websocket.BinaryMessage, Data: data, Conn: c.N})
	stall = s.opts.StallFor > 0 && !s.stalled
	s.stalled = s.stalled || stall
	s.notifyLocked()
	return len(s.msgs), stall
}

// fault plays the WSOptions faults after the n-th message.
func (s *WSServer) fault(ws *websocket.Conn, n int, stall bool) {
	if stall {
		time.Sleep(s.opts.StallFor)
	}
	if s.opts.CloseEvery > 0 && n%s.opts.CloseEvery == 0 {
		code := s.opts.CloseCode
		if code == 0 {
			code = websocket.CloseGoingAway
		}
		deadline := time.Now().Add(time.Second)
		ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, ""), deadline)
		ws.SetReadDeadline(deadline)
	}
}

// SetStatus changes WSOptions.Status for the handshakes to come: a server
// that refuses (503) for a while, then accepts (0).
func (s *WSServer) SetStatus(code int) {
	s.mu.Lock()
	s.opts.Status = code
	s.mu.Unlock()
}

func (s *WSServer) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// Stop stops listening and ends every connection. With closeCode 0 it
// drops them at once (a crash); otherwise it sends a close frame with that
// code and keeps reading, for up to a second, until the client's own close
// frame, so nothing the client sent before it is lost.
func (s *WSServer) Stop(closeCode int) {
	s.mu.Lock()
	srv := s.srv
	s.accepting = false
	conns := make(map[*websocket.Conn]chan struct{}, len(s.conns))
	for ws, done := range s.conns {
		conns[ws] = done
	}
	s.mu.Unlock()
	if srv == nil {
		return
	}
	srv.Close()
	deadline := time.Now().Add(time.Second)
	for ws := range conns {
		if closeCode == 0 {
			ws.NetConn().Close()
			continue
		}
		ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(closeCode, ""), deadline)
		ws.SetReadDeadline(deadline)
	}
	for _, done := range conns {
		<-done
	}
}

// WaitIdle waits up to timeout until no connection is open, as when the
// clients have closed theirs; it reports whether that happened.
func (s *WSServer) WaitIdle(timeout time.Duration) bool {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		s.mu.Lock()
		open, changed := len(s.conns), s.changed
		s.mu.Unlock()
		if open == 0 {
			return true
		}
		select {
		case <-changed:
		case <-timer.C:
			return false
		}
	}
}

// WaitCloseCode waits up to timeout for the close frame of the client of
// connection n (1 for the first) and returns its code; ok is false when
// none came.
func (s *WSServer) WaitCloseCode(n int, timeout time.Duration) (code int, ok bool) {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		s.mu.Lock()
		code, ok = s.closes[n]
		changed := s.changed
		s.mu.Unlock()
		if ok {
			return code, true
		}
		select {
		case <-changed:
		case <-timer.C:
			return 0, false
		}
	}
}

// Messages returns a copy of every message read so far, in arrival order.
func (s *WSServer) Messages() []WSMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]WSMessage(nil), s.msgs...)
}

// MessageCount is how many messages the server has read, without the
// copy Messages makes.
func (s *WSServer) MessageCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.msgs)
}

// Headers returns the request headers of every accepted handshake.
func (s *WSServer) Headers() []http.Header {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]http.Header(nil), s.headers...)
}

// Handshakes counts the handshakes accepted so far, across restarts.
func (s *WSServer) Handshakes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.headers)
}

// WaitFor waits until cond holds for the messages read so far, failing the
// test after timeout; it returns those messages.
func (s *WSServer) WaitFor(timeout time.Duration, what string, cond func([]WSMessage) bool) []WSMessage {
	s.t.Helper()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		s.mu.Lock()
		msgs := append([]WSMessage(nil), s.msgs...)
		changed := s.changed
		s.mu.Unlock()
		if cond(msgs) {
			return msgs
		}
		select {
		case <-changed:
		case <-timer.C:
			s.t.Fatalf("wsserver: no %s within %v (%d messages read)", what, timeout, len(msgs))
			return nil
		}
	}
}

// WaitMessages waits until at least n messages arrived.
func (s *WSServer) WaitMessages(n int, timeout time.Duration) []WSMessage {
	s.t.Helper()
	return s.WaitFor(timeout, fmt.Sprintf("%d messages", n), func(m []WSMessage) bool { return len(m) >= n })
}

// Next waits for the message after the one Next returned last (the first
// message on the first call), as a reader of a stream does.
func (s *WSServer) Next() WSMessage {
	s.t.Helper()
	s.mu.Lock()
	i := s.next
	s.next++
	s.mu.Unlock()
	return s.WaitMessages(i+1, Timeout)[i]
}
