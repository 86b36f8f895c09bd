package main

import (
	"bufio"
	"bytes"
	"compress/flate"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/out-websocket/out_websocket/internal/wstest"
)

// TestClientMasksEveryFrame reads the client's frames raw: every frame is
// masked, no two with the same key, and every handshake has a fresh
// Sec-WebSocket-Key (the built-in uses constants for both).
func TestClientMasksEveryFrame(t *testing.T) {
	type seen struct {
		key    string
		frames []wstest.Frame
	}
	got := make(chan seen, 10)
	url := wstest.RawServer(t, func(c net.Conn, br *bufio.Reader) {
		req, err := wstest.UpgradeByHand(c, br, wstest.AcceptKey)
		if err != nil {
			return
		}
		s := seen{key: req.Header.Get("Sec-WebSocket-Key")}
		defer func() { got <- s }()
		for {
			f, err := wstest.ReadFrame(br)
			if err != nil || f.Opcode == websocket.CloseMessage {
				return
			}
			wstest.AnswerPing(c, f)
			s.frames = append(s.frames, f)
		}
	})
	cfg := testConfig(url)
	cfg.IdleInterval = time.Nanosecond // a new connection for every Send
	c, _ := newTestClient(t, cfg)
	const sends = 4
	for i := range sends {
		msgs := [][]byte{[]byte("first"), bytes.Repeat([]byte("x"), 70000), []byte("third")}
		typ := websocket.TextMessage
		if i%2 == 1 {
			typ = websocket.BinaryMessage
		}
		if err := c.Send(typ, each(msgs)); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	c.Close()

	keys := map[string]bool{}
	masks := map[[4]byte]bool{}
	frames := 0
	for range sends {
		var s seen
		select {
		case s = <-got:
		case <-time.After(testTimeout):
			t.Fatalf("%d of %d connections ended", len(keys), sends)
		}
		if k, err := base64.StdEncoding.DecodeString(s.key); err != nil || len(k) != 16 || keys[s.key] {
			t.Errorf("Sec-WebSocket-Key %q: want 16 random bytes in base64, new each time", s.key)
		}
		keys[s.key] = true
		for _, f := range s.frames {
			if !f.Masked || masks[f.Key] {
				t.Errorf("frame masked=%v with key %x: want masked, with a key not used before", f.Masked, f.Key)
			}
			masks[f.Key] = true
			if f.Opcode != websocket.PingMessage {
				frames++
			}
		}
	}
	// 70000 bytes make two frames; the confirming pings are not counted.
	if len(keys) != sends || frames != sends*4 {
		t.Errorf("%d handshakes and %d frames, want %d and %d", len(keys), frames, sends, sends*4)
	}
}

// TestClientChecksAccept refuses a server whose Sec-WebSocket-Accept does
// not answer our key, before sending it anything.
func TestClientChecksAccept(t *testing.T) {
	for _, tc := range []struct {
		name    string
		accept  func(string) string
		wantErr string
	}{
		{"right", wstest.AcceptKey, ""},
		{"rfc sample", func(string) string { return "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" }, "Sec-WebSocket-Accept"},
		{"empty", func(string) string { return "" }, "Sec-WebSocket-Accept"},
		{"key echoed", func(k string) string { return k }, "Sec-WebSocket-Accept"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			frames := make(chan int, 1)
			url := wstest.RawServer(t, func(c net.Conn, br *bufio.Reader) {
				if _, err := wstest.UpgradeByHand(c, br, tc.accept); err != nil {
					return
				}
				n := 0
				for {
					if _, err := wstest.ReadDataFrame(c, br); err != nil {
						break
					}
					n++
				}
				frames <- n
			})
			c, _ := newTestClient(t, testConfig(url))
			err := c.Send(websocket.TextMessage, each([][]byte{[]byte("secret")}))
			c.Close()
			if !errorContains(err, tc.wantErr) {
				t.Fatalf("Send: %v, want error containing %q", err, tc.wantErr)
			}
			n := <-frames
			if want := map[bool]int{true: 1, false: 0}[tc.wantErr == ""]; n != want {
				t.Errorf("server read %d data frames, want %d", n, want)
			}
		})
	}
}

// errorContains tells whether err matches want: nil for "", else an error
// whose text holds want.
func errorContains(err error, want string) bool {
	if want == "" {
		return err == nil
	}
	return err != nil && strings.Contains(err.Error(), want)
}

// TestClientHandshakeRefused reports the HTTP status and the start of the
// body, naming 401 and 403 as authentication failures, and logs the
// outage once.
func TestClientHandshakeRefused(t *testing.T) {
	for _, tc := range []struct {
		status  int
		want    []string
		notAuth bool
	}{
		{401, []string{"HTTP 401 Unauthorized", "authentication failed", "bad token"}, false},
		{403, []string{"HTTP 403 Forbidden", "authentication failed", "bad token"}, false},
		{404, []string{"HTTP 404 Not Found", "bad token"}, true},
		{503, []string{"HTTP 503 Service Unavailable", "bad token"}, true},
	} {
		t.Run(http.StatusText(tc.status), func(t *testing.T) {
			srv := startHTTPServer(t, func(w http.ResponseWriter, r *http.Request) {
				http.Error(w, "bad token: "+strings.Repeat("z", 2000), tc.status)
			})
			c, log := newTestClient(t, testConfig("ws"+strings.TrimPrefix(srv, "http")+"/"))
			err := c.Send(websocket.TextMessage, each([][]byte{[]byte("x")}))
			for _, w := range tc.want {
				if !errorContains(err, w) {
					t.Errorf("Send: %v, want it to say %q", err, w)
				}
			}
			if tc.notAuth && errorContains(err, "authentication") {
				t.Errorf("Send: %v, names authentication for HTTP %d", err, tc.status)
			}
			if err != nil && len(err.Error()) > 600 {
				t.Errorf("error of %d bytes: want only the start of the body", len(err.Error()))
			}
			if n := log.count("warn", tc.want[0]); n != 1 {
				t.Errorf("%d warnings naming %q, want 1", n, tc.want[0])
			}
		})
	}
}

func startHTTPServer(t *testing.T, h http.HandlerFunc) string {
	srv := &http.Server{Handler: h}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}

// TestClientConnectTimeout: a server that takes the TCP connection but
// never finishes the handshake cannot hold a flush past ConnectTimeout.
func TestClientConnectTimeout(t *testing.T) {
	for _, tc := range []struct {
		name   string
		answer string
	}{
		{"silent", ""},
		{"half a response", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url := wstest.RawServer(t, func(c net.Conn, br *bufio.Reader) {
				http.ReadRequest(br)
				io.WriteString(c, tc.answer)
				io.Copy(io.Discard, br) // until the client gives up
			})
			cfg := testConfig(url)
			cfg.ConnectTimeout = 200 * time.Millisecond
			c, _ := newTestClient(t, cfg)
			start := time.Now()
			err := c.Send(websocket.TextMessage, each([][]byte{[]byte("x")}))
			if !errorContains(err, "connect_timeout") {
				t.Fatalf("Send: %v, want a connect_timeout error", err)
			}
			if d := time.Since(start); d > cfg.ConnectTimeout+testTimeout {
				t.Errorf("Send returned after %v, ConnectTimeout is %v", d, cfg.ConnectTimeout)
			}
		})
	}
}

// TestClientHandshakeFlood: a server that sends handshake headers without
// end is cut after handshakeLimit bytes, long before connect_timeout, so
// the memory it can make the plugin take is bounded.
func TestClientHandshakeFlood(t *testing.T) {
	url := wstest.RawServer(t, func(c net.Conn, br *bufio.Reader) {
		http.ReadRequest(br)
		io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nX-Flood: ")
		flood := bytes.Repeat([]byte("a"), 64<<10)
		for i := 0; i < 1000; i++ { // 64 MB at most
			if _, err := c.Write(flood); err != nil {
				return
			}
		}
	})
	cfg := testConfig(url)
	cfg.ConnectTimeout = testTimeout
	c, _ := newTestClient(t, cfg)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()
	err := c.Send(websocket.TextMessage, each([][]byte{[]byte("x")}))
	runtime.ReadMemStats(&after)
	if !errors.Is(err, errHandshakeTooLarge) {
		t.Fatalf("Send: %v, want %v", err, errHandshakeTooLarge)
	}
	if d := time.Since(start); d > testTimeout/2 {
		t.Errorf("cut after %v, not at the limit", d)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 32*handshakeLimit {
		t.Errorf("the handshake allocated %d MB", grew>>20)
	}
}

// TestClientSubprotocol holds the server to the subprotocols offered and,
// with subprotocol_required, to picking one.
func TestClientSubprotocol(t *testing.T) {
	for _, tc := range []struct {
		name     string
		required bool
		answer   string // the server's Sec-WebSocket-Protocol
		wantErr  string
	}{
		{"picked", true, "v2.logs", ""},
		{"none, optional", false, "", ""},
		{"none, required", true, "", "chose none of the subprotocols v1.logs, v2.logs"},
		{"not offered", false, "mqtt", `chose subprotocol "mqtt", which was not offered`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			offered := make(chan string, 1)
			url := wstest.RawServer(t, func(c net.Conn, br *bufio.Reader) {
				var extra []string
				if tc.answer != "" {
					extra = append(extra, "Sec-WebSocket-Protocol: "+tc.answer)
				}
				req, err := wstest.UpgradeByHand(c, br, wstest.AcceptKey, extra...)
				if err != nil {
					return
				}
				offered <- req.Header.Get("Sec-WebSocket-Protocol")
				wstest.DiscardFrames(c, br)
			})
			cfg := testConfig(url)
			cfg.Subprotocols, cfg.RequireSubprotocol = []string{"v1.logs", "v2.logs"}, tc.required
			c, _ := newTestClient(t, cfg)
			if err := c.Send(websocket.TextMessage, each([][]byte{[]byte("x")})); !errorContains(err, tc.wantErr) {
				t.Fatalf("Send: %v, want %q", err, tc.wantErr)
			}
			if got := <-offered; got != "v1.logs, v2.logs" {
				t.Errorf("offered %q", got)
			}
		})
	}
}

// TestClientHeaders sends the configured headers (auth, origin, custom)
// with the handshake.
func TestClientHeaders(t *testing.T) {
	srv := wstest.StartWSServer(t, wstest.WSOptions{})
	cfg := testConfig(srv.URL())
	cfg.Header = http.Header{
		"Authorization": {"Bearer t0ken"},
		"Origin":        {"https://logs.example"},
		"X-Tenant":      {"a", "b"},
	}
	c, _ := newTestClient(t, cfg)
	if err := c.Send(websocket.TextMessage, each([][]byte{[]byte("x")})); err != nil {
		t.Fatal(err)
	}
	srv.Next()
	h := srv.Headers()[0]
	for k, v := range cfg.Header {
		if got := h.Values(k); strings.Join(got, ",") != strings.Join(v, ",") {
			t.Errorf("header %s: %q, want %q", k, got, v)
		}
	}
}

// TestClientCompression negotiates permessage-deflate only when asked, and
// then sends compressed frames (RSV1) that inflate to the message.
func TestClientCompression(t *testing.T) {
	for _, compress := range []bool{false, true} {
		t.Run(map[bool]string{false: "off", true: "on"}[compress], func(t *testing.T) {
			type result struct {
				offer string
				f     wstest.Frame
			}
			got := make(chan result, 1)
			url := wstest.RawServer(t, func(c net.Conn, br *bufio.Reader) {
				req, err := http.ReadRequest(br)
				if err != nil {
					return
				}
				offer := req.Header.Get("Sec-WebSocket-Extensions")
				resp := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " +
					wstest.AcceptKey(req.Header.Get("Sec-WebSocket-Key")) + "\r\n"
				if offer != "" {
					resp += "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_no_context_takeover\r\n"
				}
				io.WriteString(c, resp+"\r\n")
				f, _ := wstest.ReadDataFrame(c, br)
				got <- result{offer, f}
				wstest.DiscardFrames(c, br)
			})
			cfg := testConfig(url)
			cfg.Compression = compress
			c, _ := newTestClient(t, cfg)
			msg := strings.Repeat("compressible ", 1000)
			if err := c.Send(websocket.TextMessage, each([][]byte{[]byte(msg)})); err != nil {
				t.Fatal(err)
			}
			r := <-got
			if (r.offer != "") != compress || r.f.RSV1 != compress {
				t.Fatalf("offer %q, RSV1 %v: want compression %v", r.offer, r.f.RSV1, compress)
			}
			payload := r.f.Payload
			if compress {
				b, err := io.ReadAll(flate.NewReader(io.MultiReader(bytes.NewReader(payload), strings.NewReader("\x00\x00\xff\xff\x01\x00\x00\xff\xff"))))
				if err != nil {
					t.Fatal(err)
				}
				payload = b
			}
			if string(payload) != msg {
				t.Errorf("payload of %d bytes differs from the message", len(payload))
			}
		})
	}
}

// TestClientProxy connects through an HTTP CONNECT proxy, and says so when
// the proxy refuses.
func TestClientProxy(t *testing.T) {
	for _, tc := range []struct {
		name    string
		refuse  bool
		wantErr string
	}{
		{"tunnel", false, ""},
		{"refused", true, "Proxy Authentication Required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := wstest.StartWSServer(t, wstest.WSOptions{})
			target := strings.TrimSuffix(strings.TrimPrefix(srv.URL(), "ws://"), "/")
			connects := make(chan string, 10)
			proxy := wstest.RawServer(t, func(c net.Conn, br *bufio.Reader) {
				req, err := http.ReadRequest(br)
				if err != nil {
					return
				}
				connects <- req.Method + " " + req.Host
				if tc.refuse {
					io.WriteString(c, "HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n")
					return
				}
				up, err := net.Dial("tcp", req.Host)
				if err != nil {
					return
				}
				defer up.Close()
				up.SetDeadline(time.Now().Add(testTimeout))
				io.WriteString(c, "HTTP/1.1 200 Connection established\r\n\r\n")
				go io.Copy(up, br)
				io.Copy(c, up)
			})
			cfg := testConfig(srv.URL())
			proxyURL, _ := url.Parse(strings.Replace(proxy, "ws://", "http://", 1))
			cfg.Proxy = http.ProxyURL(proxyURL)
			c, _ := newTestClient(t, cfg)
			err := c.Send(websocket.TextMessage, each([][]byte{[]byte("via proxy")}))
			if !errorContains(err, tc.wantErr) {
				t.Fatalf("Send: %v, want %q", err, tc.wantErr)
			}
			if got := <-connects; got != "CONNECT "+target {
				t.Errorf("proxy got %q, want CONNECT %s", got, target)
			}
			if err == nil {
				if m := srv.Next(); string(m.Data) != "via proxy" {
					t.Errorf("server got %q", string(m.Data))
				}
			}
		})
	}
}

// TestClientTLS covers wss:// with a CA made here: trust, host names,
// expiry, client certificates, versions; each failure names its fix.
func TestClientTLS(t *testing.T) {
	pki := wstest.NewTestCA(t)
	now := time.Now()
	valid := pki.Issue(t, now.Add(-time.Hour), now.Add(time.Hour), false, "127.0.0.1")
	client := pki.Issue(t, now.Add(-time.Hour), now.Add(time.Hour), true, "fluent-bit")
	for _, tc := range []struct {
		name    string
		server  *tls.Config
		client  func(*tls.Config)
		wantErr string
	}{
		{"valid", &tls.Config{Certificates: []tls.Certificate{valid}}, nil, ""},
		{"untrusted", &tls.Config{Certificates: []tls.Certificate{valid}},
			func(c *tls.Config) { c.RootCAs = nil }, "set ws_tls.ca_file"},
		{"untrusted, verify off", &tls.Config{Certificates: []tls.Certificate{valid}},
			func(c *tls.Config) { c.RootCAs, c.InsecureSkipVerify = nil, true }, ""},
		{"wrong name", &tls.Config{Certificates: []tls.Certificate{pki.Issue(t, now.Add(-time.Hour), now.Add(time.Hour), false, "logs.example")}},
			nil, "not for this host name"},
		{"vhost", &tls.Config{Certificates: []tls.Certificate{pki.Issue(t, now.Add(-time.Hour), now.Add(time.Hour), false, "logs.example")}},
			func(c *tls.Config) { c.ServerName = "logs.example" }, ""},
		{"expired", &tls.Config{Certificates: []tls.Certificate{pki.Issue(t, now.Add(-2*time.Hour), now.Add(-time.Hour), false, "127.0.0.1")}},
			nil, "expired"},
		{"client cert missing", &tls.Config{Certificates: []tls.Certificate{valid}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pki.Pool},
			nil, "ws_tls.crt_file"},
		{"client cert", &tls.Config{Certificates: []tls.Certificate{valid}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pki.Pool},
			func(c *tls.Config) { c.Certificates = []tls.Certificate{client} }, ""},
		{"min version", &tls.Config{Certificates: []tls.Certificate{valid}, MaxVersion: tls.VersionTLS12},
			func(c *tls.Config) { c.MinVersion = tls.VersionTLS13 }, "protocol version"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := wstest.StartWSServer(t, wstest.WSOptions{TLS: tc.server})
			cfg := testConfig(srv.URL())
			// As loadTLS makes it for this URL.
			cfg.TLS = &tls.Config{ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12, RootCAs: pki.Pool}
			if tc.client != nil {
				tc.client(cfg.TLS)
			}
			c, _ := newTestClient(t, cfg)
			err := c.Send(websocket.TextMessage, each([][]byte{[]byte("over tls")}))
			if !errorContains(err, tc.wantErr) {
				t.Fatalf("Send: %v, want %q", err, tc.wantErr)
			}
			if err == nil {
				if m := srv.Next(); string(m.Data) != "over tls" {
					t.Errorf("server got %q", string(m.Data))
				}
			}
		})
	}
}

// TestHandshakeErrorWraps keeps the cause reachable with errors.Is.
func TestHandshakeErrorWraps(t *testing.T) {
	cause := errors.New("dial tcp: connection refused")
	err := handshakeError(testConfig("ws://127.0.0.1:1/"), nil, cause)
	if !errors.Is(err, cause) || !strings.Contains(err.Error(), "connect to ws://127.0.0.1:1/") {
		t.Fatalf("%v", err)
	}
}
