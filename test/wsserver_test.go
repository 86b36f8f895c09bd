package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// WSOptions shape a WSServer. The zero value is a plain ws:// server on
// path "/" that accepts every handshake.
type WSOptions struct {
	// TLS makes it a wss:// server (see TestCA.ServerTLS).
	TLS *tls.Config
	// Path is the only path it upgrades; others get 404. Default "/".
	Path string
	// Subprotocols the server picks from, in its order of preference.
	Subprotocols []string
	// Status, when not 0, refuses every handshake with this HTTP status.
	Status int
	// Addr is the host:port to listen on; default a free loopback port.
	Addr string

	// Faults, counted over the server's life (all connections, restarts
	// included); for crashes that count what they lose see crashProxy in
	// fault_test.go. CloseEvery, when not 0, sends a close frame with
	// CloseCode (default 1001, going away) after every CloseEvery-th
	// message, then reads on until the client's close, as Stop does.
	CloseEvery int
	CloseCode  int
	// StallFor, when not 0, stops reading for that long after the first
	// message (once per server), like a server too busy to read.
	StallFor time.Duration
}

// WSMessage is one message a WSServer read.
type WSMessage struct {
	Binary bool
	Data   []byte
	// Conn numbers the connection that carried it: 1 for the first
	// handshake the server accepted, counting across restarts.
	Conn int
}

// WSServer is a WebSocket server on 127.0.0.1 for end-to-end tests. It
// keeps every message it reads and every handshake's request headers, and
// can be stopped and started again on the same port to play a server that
// restarts. It stops by itself when the test ends.
type WSServer struct {
	t    testing.TB
	opts WSOptions
	addr string // host:port, kept across restarts

	mu        sync.Mutex
	changed   chan struct{} // closed and replaced whenever msgs or headers grow
	msgs      []WSMessage
	headers   []http.Header
	closes    []int // close codes clients sent
	ln        net.Listener
	srv       *http.Server
	conns     map[*websocket.Conn]chan struct{} // closed when its reader ends
	accepting bool
	stalled   bool // StallFor was played
}

// StartWSServer starts a server on a free loopback port.
func StartWSServer(t testing.TB, opts WSOptions) *WSServer {
	t.Helper()
	if opts.Path == "" {
		opts.Path = "/"
	}
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	s := &WSServer{t: t, opts: opts, addr: opts.Addr, changed: make(chan struct{}),
		conns: map[*websocket.Conn]chan struct{}{}}
	s.Start()
	t.Cleanup(func() { s.Stop(0) })
	return s
}

// URL is the ws:// (or wss://) URL of the server's path.
func (s *WSServer) URL() string {
	scheme := "ws"
	if s.opts.TLS != nil {
		scheme = "wss"
	}
	return scheme + "://" + s.addr + s.opts.Path
}

// HostPort is the address as Fluent Bit's Host and Port keys want it.
func (s *WSServer) HostPort() (string, int) {
	host, port, _ := net.SplitHostPort(s.addr)
	p, _ := strconv.Atoi(port)
	return host, p
}

// Start listens again on the server's port after Stop (a restart); the
// first call, from StartWSServer, picks the port.
func (s *WSServer) Start() {
	s.t.Helper()
	var ln net.Listener
	var err error
	// The port was ours a moment ago; a connection lingering on it can
	// make the first tries fail.
	for i := 0; i < 50; i++ {
		if ln, err = net.Listen("tcp", s.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		s.t.Fatalf("wsserver: listen on %s: %v", s.addr, err)
	}
	s.addr = ln.Addr().String()
	if s.opts.TLS != nil {
		ln = tls.NewListener(ln, s.opts.TLS)
	}
	up := &websocket.Upgrader{
		Subprotocols:      s.opts.Subprotocols,
		EnableCompression: true,
		CheckOrigin:       func(*http.Request) bool { return true },
	}
	srv := &http.Server{
		Handler:           http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { s.serve(up, w, r) }),
		ReadHeaderTimeout: 5 * time.Second,
	}
	s.mu.Lock()
	s.ln, s.srv, s.accepting = ln, srv, true
	s.mu.Unlock()
	go srv.Serve(ln)
}

func (s *WSServer) serve(up *websocket.Upgrader, w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != s.opts.Path {
		http.NotFound(w, r)
		return
	}
	s.mu.Lock()
	status := s.opts.Status
	s.mu.Unlock()
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
	id := len(s.headers)
	s.notifyLocked()
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.conns, ws)
		s.mu.Unlock()
	}()

	ws.SetReadLimit(64 << 20)
	for {
		typ, data, err := ws.ReadMessage()
		if err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) && ce.Code != websocket.CloseAbnormalClosure {
				s.mu.Lock()
				s.closes = append(s.closes, ce.Code)
				s.notifyLocked()
				s.mu.Unlock()
			}
			return
		}
		s.mu.Lock()
		s.msgs = append(s.msgs, WSMessage{Binary: typ == websocket.BinaryMessage, Data: data, Conn: id})
		n := len(s.msgs)
		stall := s.opts.StallFor > 0 && !s.stalled
		s.stalled = s.stalled || stall
		s.notifyLocked()
		s.mu.Unlock()
		if s.fault(ws, n, stall) {
			return
		}
	}
}

// fault plays the WSOptions faults after the n-th message; it reports
// whether the connection is to end.
func (s *WSServer) fault(ws *websocket.Conn, n int, stall bool) bool {
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
	return false
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

// Messages returns a copy of every message read so far, in arrival order.
func (s *WSServer) Messages() []WSMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]WSMessage(nil), s.msgs...)
}

// Headers returns the request headers of every accepted handshake.
func (s *WSServer) Headers() []http.Header {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]http.Header(nil), s.headers...)
}

// WaitClientCloses waits up to timeout for n close frames from clients
// and returns their codes, in order (fewer on timeout).
func (s *WSServer) WaitClientCloses(n int, timeout time.Duration) []int {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		s.mu.Lock()
		closes, changed := slices.Clone(s.closes), s.changed
		s.mu.Unlock()
		if len(closes) >= n {
			return closes
		}
		select {
		case <-changed:
		case <-timer.C:
			return closes
		}
	}
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

// TestCA is a certificate authority made at test time, for wss:// tests.
type TestCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	// File is the CA certificate in PEM, for the ws_tls.ca_file key.
	File string
}

// NewTestCA makes a CA whose certificate is written under t.TempDir().
func NewTestCA(t testing.TB) *TestCA {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "out_websocket test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	ca := &TestCA{cert: cert, key: key, File: filepath.Join(t.TempDir(), "ca.pem")}
	writePEM(t, ca.File, "CERTIFICATE", der)
	return ca
}

// ServerTLS is a server configuration with a certificate from this CA for
// the given DNS names and IP addresses.
func (ca *TestCA) ServerTLS(t testing.TB, hosts ...string) *tls.Config {
	t.Helper()
	return ca.ServerTLSValid(t, time.Now().Add(-time.Hour), time.Now().Add(time.Hour), hosts...)
}

// ServerTLSValid is ServerTLS with a certificate valid from notBefore to
// notAfter, e.g. one that has expired.
func (ca *TestCA) ServerTLSValid(t testing.TB, notBefore, notAfter time.Time, hosts ...string) *tls.Config {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: hosts[0]},
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func writePEM(t testing.TB, path, typ string, der []byte) {
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestWSServer checks the server itself: what a client sends is kept, a
// graceful Stop loses nothing, and Start listens on the same port again.
func TestWSServer(t *testing.T) {
	ca := NewTestCA(t)
	for _, tc := range []struct {
		name string
		opts WSOptions
		tls  *tls.Config
	}{
		{"ws", WSOptions{}, nil},
		{"wss", WSOptions{TLS: ca.ServerTLS(t, "127.0.0.1")}, &tls.Config{RootCAs: caPool(t, ca)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := StartWSServer(t, tc.opts)
			d := &websocket.Dialer{TLSClientConfig: tc.tls, HandshakeTimeout: 5 * time.Second}
			send := func(msg string) {
				ws, _, err := d.Dial(s.URL(), http.Header{"X-Test": {msg}})
				if err != nil {
					t.Error(err)
					return
				}
				defer ws.Close()
				if err := ws.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
					t.Error(err)
					return
				}
				// Read until the server's close, which gorilla answers.
				ws.SetReadDeadline(time.Now().Add(5 * time.Second))
				for {
					if _, _, err := ws.ReadMessage(); err != nil {
						return
					}
				}
			}
			done := make(chan struct{})
			go func() { defer close(done); send("one") }()
			s.WaitMessages(1, 5*time.Second)
			s.Stop(websocket.CloseGoingAway)
			<-done
			port := s.addr
			s.Start()
			if s.addr != port {
				t.Fatalf("restarted on %s, want %s", s.addr, port)
			}
			done = make(chan struct{})
			go func() { defer close(done); send("two") }()
			msgs := s.WaitMessages(2, 5*time.Second)
			s.Stop(websocket.CloseNormalClosure)
			<-done
			if string(msgs[0].Data) != "one" || string(msgs[1].Data) != "two" || msgs[1].Conn != 2 {
				t.Fatalf("messages %+v, want one on conn 1 and two on conn 2", msgs)
			}
			if h := s.Headers(); len(h) != 2 || h[1].Get("X-Test") != "two" {
				t.Fatalf("headers %v", h)
			}
		})
	}
}

func caPool(t testing.TB, ca *TestCA) *x509.CertPool {
	pem, err := os.ReadFile(ca.File)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatal(errors.New("no certificate in " + ca.File))
	}
	return pool
}
