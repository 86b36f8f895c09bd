package main

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha1"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// Test servers for the connection tests, all on 127.0.0.1, and a logger
// that records what the client says.

// testTimeout bounds every wait in these tests, generously: a machine
// busy with other tests can starve a loopback server for seconds.
const testTimeout = 10 * time.Second

// testConfig is a connConfig for url whose timeouts only a stuck test
// reaches; tests of the timeouts set their own.
func testConfig(url string) connConfig {
	return connConfig{
		URL:            url,
		Header:         http.Header{},
		ConnectTimeout: testTimeout,
		WriteTimeout:   testTimeout,
		PingTimeout:    time.Second,
		// As the plugin's default.
		ConfirmDelivery: true,
	}
}

// newTestClient makes a client that is closed when the test ends and whose
// log is printed if the test fails.
func newTestClient(t *testing.T, cfg connConfig) (*client, *recLogger) {
	log := &recLogger{}
	c := newClient(cfg, log)
	c.closeWait = 200 * time.Millisecond
	t.Cleanup(func() {
		c.Close()
		if t.Failed() {
			t.Logf("client log:\n%s", strings.Join(log.all(), "\n"))
		}
	})
	return c, log
}

// recLogger keeps every line logged, prefixed with its level.
type recLogger struct {
	mu    sync.Mutex
	lines []string
}

func (l *recLogger) add(level, format string, args []any) {
	l.mu.Lock()
	l.lines = append(l.lines, level+": "+fmt.Sprintf(format, args...))
	l.mu.Unlock()
}

func (l *recLogger) Errorf(format string, args ...any) { l.add("error", format, args) }
func (l *recLogger) Warnf(format string, args ...any)  { l.add("warn", format, args) }
func (l *recLogger) Infof(format string, args ...any)  { l.add("info", format, args) }
func (l *recLogger) Debugf(format string, args ...any) { l.add("debug", format, args) }

func (l *recLogger) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.lines...)
}

// count counts the lines of a level that contain substr.
func (l *recLogger) count(level, substr string) int {
	n := 0
	for _, line := range l.all() {
		if strings.HasPrefix(line, level+": ") && strings.Contains(line, substr) {
			n++
		}
	}
	return n
}

// message is one message a test server read.
type message struct {
	typ  int
	data string
	conn int // 1 for the first connection
}

// wsServer is a gorilla WebSocket server; handle runs for each connection
// (numbered from 1) and the server closes every connection when the test
// ends.
type wsServer struct {
	*httptest.Server
	url      string
	upgrader websocket.Upgrader

	mu      sync.Mutex
	conns   []*websocket.Conn
	headers []http.Header
}

func startWSServer(t testing.TB, handle func(ws *websocket.Conn, n int)) *wsServer {
	return startWSServerTLS(t, nil, handle)
}

func startWSServerTLS(t testing.TB, tc *tls.Config, handle func(ws *websocket.Conn, n int)) *wsServer {
	s := &wsServer{upgrader: websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := s.upgrader.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns = append(s.conns, ws)
		s.headers = append(s.headers, r.Header.Clone())
		n := len(s.conns)
		s.mu.Unlock()
		defer ws.Close()
		handle(ws, n)
	}))
	// TLS tests fail handshakes on purpose; the server need not say so.
	s.Server.Config.ErrorLog = log.New(io.Discard, "", 0)
	if tc != nil {
		s.Server.TLS = tc
		s.StartTLS()
		s.url = "wss" + strings.TrimPrefix(s.Server.URL, "https") + "/"
	} else {
		s.Start()
		s.url = "ws" + strings.TrimPrefix(s.Server.URL, "http") + "/"
	}
	t.Cleanup(func() {
		s.mu.Lock()
		for _, ws := range s.conns {
			ws.NetConn().Close()
		}
		s.mu.Unlock()
		s.Close()
	})
	return s
}

func (s *wsServer) header(i int) http.Header {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.headers[i]
}

func (s *wsServer) handshakes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// recorder collects the messages of a server in arrival order.
type recorder struct{ ch chan message }

func newRecorder() *recorder { return &recorder{ch: make(chan message, 1000)} }

// read reads messages from ws until it ends; gorilla answers pings and
// close frames while it reads.
func (r *recorder) read(ws *websocket.Conn, n int) {
	for {
		typ, data, err := ws.ReadMessage()
		if err != nil {
			return
		}
		r.ch <- message{typ, string(data), n}
	}
}

// next waits for the next message.
func (r *recorder) next(t *testing.T) message {
	t.Helper()
	select {
	case m := <-r.ch:
		return m
	case <-time.After(testTimeout):
		t.Fatal("no message arrived")
		return message{}
	}
}

// none checks that no message is waiting.
func (r *recorder) none(t *testing.T) {
	t.Helper()
	select {
	case m := <-r.ch:
		t.Fatalf("unexpected message %+v", m)
	default:
	}
}

// frame is one WebSocket frame as it was on the wire.
type frame struct {
	fin     bool
	rsv1    bool // compressed (permessage-deflate)
	opcode  byte
	masked  bool
	key     [4]byte
	payload []byte // unmasked
}

// readFrame reads one frame the way RFC 6455 5.2 lays it out.
func readFrame(r io.Reader) (frame, error) {
	var f frame
	var h [2]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return f, err
	}
	f.fin, f.rsv1, f.opcode, f.masked = h[0]&0x80 != 0, h[0]&0x40 != 0, h[0]&0x0f, h[1]&0x80 != 0
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var b [2]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return f, err
		}
		n = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return f, err
		}
		n = binary.BigEndian.Uint64(b[:])
	}
	if f.masked {
		if _, err := io.ReadFull(r, f.key[:]); err != nil {
			return f, err
		}
	}
	if n > 1<<24 {
		return f, fmt.Errorf("frame of %d bytes", n)
	}
	f.payload = make([]byte, n)
	if _, err := io.ReadFull(r, f.payload); err != nil {
		return f, err
	}
	unmask(f.payload, f.key)
	return f, nil
}

// unmask XORs p with the key, eight bytes at a time where it can: the
// tests read megabytes, often under the race detector.
func unmask(p []byte, key [4]byte) {
	k := uint64(binary.LittleEndian.Uint32(key[:]))
	k |= k << 32
	i := 0
	for ; i+8 <= len(p); i += 8 {
		binary.LittleEndian.PutUint64(p[i:], binary.LittleEndian.Uint64(p[i:])^k)
	}
	for ; i < len(p); i++ {
		p[i] ^= key[i%4]
	}
}

// acceptKey is Sec-WebSocket-Accept for a Sec-WebSocket-Key (RFC 6455 4.2.2).
func acceptKey(key string) string {
	h := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(h[:])
}

// rawServer accepts TCP connections and hands each to handle with the
// connection's reader, for tests that speak the protocol by hand.
func rawServer(t *testing.T, handle func(c net.Conn, br *bufio.Reader)) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			c.SetDeadline(time.Now().Add(testTimeout))
			wg.Go(func() {
				defer c.Close()
				handle(c, bufio.NewReader(c))
			})
		}
	})
	return "ws://" + ln.Addr().String() + "/"
}

// upgradeByHand reads the client's handshake and answers it with accept
// (a function of the client's key) and extra header lines, returning the
// request.
func upgradeByHand(c net.Conn, br *bufio.Reader, accept func(key string) string, extra ...string) (*http.Request, error) {
	req, err := http.ReadRequest(br)
	if err != nil {
		return nil, err
	}
	resp := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	for _, h := range append([]string{"Sec-WebSocket-Accept: " + accept(req.Header.Get("Sec-WebSocket-Key"))}, extra...) {
		resp += h + "\r\n"
	}
	_, err = io.WriteString(c, resp+"\r\n")
	return req, err
}

// answerPing answers f with a pong if it is a ping, as every server must
// (RFC 6455 5.5.2), and as the plugin's confirm_delivery waits for.
func answerPing(w io.Writer, f frame) {
	if f.opcode == websocket.PingMessage {
		writeServerFrame(w, websocket.PongMessage, f.payload)
	}
}

// discardFrames reads frames, answering pings, until the client closes.
func discardFrames(c io.Writer, br *bufio.Reader) {
	for {
		f, err := readFrame(br)
		if err != nil || f.opcode == websocket.CloseMessage {
			return
		}
		answerPing(c, f)
	}
}

// writeServerFrame writes an unmasked frame, as a server does, with a
// payload of at most 125 bytes.
func writeServerFrame(w io.Writer, opcode byte, payload []byte) error {
	_, err := w.Write(append([]byte{0x80 | opcode, byte(len(payload))}, payload...))
	return err
}

// testPKI is a CA made at test time and certificates it signs.
type testPKI struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
}

func newTestPKI(t *testing.T) *testPKI {
	key := newTestKey(t)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
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
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testPKI{cert: cert, key: key, pool: pool}
}

// issue makes a certificate for an IP or DNS name, valid from notBefore
// to notAfter, for a server or (client set) a client.
func (p *testPKI) issue(t *testing.T, name string, notBefore, notAfter time.Time, client bool) tls.Certificate {
	key := newTestKey(t)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	if client {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	if ip := net.ParseIP(name); ip != nil {
		tmpl.IPAddresses = []net.IP{ip}
	} else {
		tmpl.DNSNames = []string{name}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.cert, &key.PublicKey, p.key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func newTestKey(t *testing.T) *ecdsa.PrivateKey {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}
