package main

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/out-websocket/out_websocket/internal/wstest"
)

// keysSource is an [OUTPUT] as written: it lists its keys, as the
// plugin's own source does.
type keysSource struct{ mapSource }

func (k keysSource) Keys() []string {
	var out []string
	for key := range k.mapSource {
		out = append(out, key)
	}
	return out
}

// Each mistake in the credentials keys stops the plugin at start with an
// error naming the key.
func TestCredentialsConfigErrors(t *testing.T) {
	secret := writeTestFile(t, t.TempDir(), "secret", "s3cret\n")
	empty := writeTestFile(t, t.TempDir(), "empty", "\n")
	oauth := func(extra ...string) mapSource {
		m := mapSource{"uri": "ws://127.0.0.1:1/", "oauth2.enable": "on", "oauth2.token_url": "https://idp/token",
			"oauth2.client_id": "fluent", "oauth2.client_secret": "cs-1234"}
		for i := 0; i+1 < len(extra); i += 2 {
			m[extra[i]] = extra[i+1]
		}
		return m
	}
	tests := []struct {
		name string
		src  configSource
		want string
	}{
		{"no token_url", oauth("oauth2.token_url", ""), "'oauth2.token_url' is not set"},
		{"token_url not http", oauth("oauth2.token_url", "ftp://idp/x"), "key 'oauth2.token_url'"},
		{"no client_id", oauth("oauth2.client_id", ""), "'oauth2.client_id' is not set"},
		{"no secret", oauth("oauth2.client_secret", ""), "neither 'oauth2.client_secret' nor 'client_secret_file'"},
		{"both secrets", oauth(clientSecretFileKey, secret), "keys 'oauth2.client_secret' and 'client_secret_file' conflict"},
		{"secret file missing", oauth("oauth2.client_secret", "", clientSecretFileKey, "/nonexistent/s"), "key 'client_secret_file'"},
		{"unknown auth_method", oauth("oauth2.auth_method", "tls_client_auth"), "key 'oauth2.auth_method': allowed: basic, post, private_key_jwt"},
		{"jwt without files", oauth("oauth2.auth_method", "private_key_jwt"), "needs 'oauth2.jwt_key_file' and 'oauth2.jwt_cert_file'"},
		{"jwt key not a key", oauth("oauth2.auth_method", "private_key_jwt", "oauth2.jwt_key_file", secret, "oauth2.jwt_cert_file", secret), "key 'oauth2.jwt_key_file'"},
		{"bad timeout", oauth("oauth2.timeout", "5 minutes"), "key 'oauth2.timeout'"},
		{"bad skew", oauth("oauth2.refresh_skew_seconds", "1.5"), "key 'oauth2.refresh_skew_seconds'"},
		{"with bearer_token", oauth("bearer_token", "bt-1234"), "keys 'oauth2.enable' and 'bearer_token' conflict"},
		{"with http_user", oauth("http_user", "u"), "keys 'oauth2.enable' and 'http_user' conflict"},
		{"with header", oauth("header", "Authorization Bearer x-1234"), "keys 'oauth2.enable' and 'header' conflict"},
		{"with userinfo", oauth("uri", "ws://u:p@127.0.0.1:1/"), "keys 'oauth2.enable' and 'uri' conflict"},
		{"with bearer_token_file", oauth("bearer_token_file", secret), "keys 'oauth2.enable' and 'bearer_token_file' conflict"},
		{"unknown oauth2 key", keysSource{oauth("oauth2.client_secret_file", secret)}, "unknown key 'oauth2.client_secret_file': the OAuth2 client secret's file is key 'client_secret_file'"},
		{"misspelt oauth2 key", keysSource{oauth("oauth2.tokenurl", "x")}, "unknown key 'oauth2.tokenurl'"},
		{"token file missing", mapSource{"bearer_token_file": "/nonexistent/t"}, "key 'bearer_token_file': open /nonexistent/t"},
		{"token file empty", mapSource{"bearer_token_file": empty}, "key 'bearer_token_file': " + empty + " is empty"},
		{"token file and token", mapSource{"bearer_token_file": secret, "bearer_token": "bt-1234"}, "keys 'bearer_token_file' and 'bearer_token' conflict"},
		{"token file and header", mapSource{"bearer_token_file": secret, "header.1": "Authorization Basic x"}, "keys 'bearer_token_file' and 'header' conflict"},
		{"password file alone", mapSource{"http_passwd_file": secret}, "'http_passwd_file' is set without 'http_user'"},
		{"both passwords", mapSource{"http_passwd_file": secret, "http_user": "u", "http_passwd": "p-1234"}, "keys 'http_passwd' and 'http_passwd_file' conflict"},
		{"both files", mapSource{"http_passwd_file": secret, "http_user": "u", "bearer_token_file": secret}, "keys 'bearer_token_file' and 'http_passwd_file' conflict"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := loadConfig(tt.src, coreEndpoint{}, "")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one with %q", err, tt.want)
			}
			for _, s := range []string{"cs-1234", "bt-1234", "p-1234", "s3cret"} {
				if strings.Contains(err.Error(), s) {
					t.Errorf("the error shows the secret %q: %v", s, err)
				}
			}
		})
	}
	// oauth2.* keys with oauth2.enable off are Fluent Bit's to ignore.
	if _, err := loadConfig(mapSource{"oauth2.token_url": "x", "bearer_token": "t"}, coreEndpoint{}, ""); err != nil {
		t.Errorf("oauth2.* keys without oauth2.enable: %v", err)
	}
}

// Fluent Bit's time values: seconds, or with a unit.
func TestFBSeconds(t *testing.T) {
	for in, want := range map[string]time.Duration{"": 7 * time.Second, "0": 7 * time.Second, "0s": 7 * time.Second, "12": 12 * time.Second,
		"30s": 30 * time.Second, "5m": 5 * time.Minute, "2H": 2 * time.Hour, "1d": 24 * time.Hour} {
		r := &keyReader{src: mapSource{"oauth2.timeout": in}}
		if got := r.fbSeconds("oauth2.timeout", 7*time.Second); got != want || len(r.errs) > 0 {
			t.Errorf("%q: %v %v, want %v", in, got, r.errs, want)
		}
	}
}

// oauthConfig is the config of an endpoint url whose tokens come from ts.
func oauthConfig(t *testing.T, url string, ts *wstest.TokenServer, extra ...string) *config {
	t.Helper()
	src := mapSource{"uri": url, "oauth2.enable": "on", "oauth2.token_url": ts.URL(), "oauth2.client_id": "fluent",
		"oauth2.client_secret": "cs-secret", "connect_timeout": "10"}
	for i := 0; i+1 < len(extra); i += 2 {
		src[extra[i]] = extra[i+1]
	}
	cfg, err := loadConfig(src, coreEndpoint{}, "")
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// tokenCounts counts the token metrics of a client.
type tokenCounts struct {
	noMetrics
	fetched, failed atomic.Int32
}

func (m *tokenCounts) TokenFetched()     { m.fetched.Add(1) }
func (m *tokenCounts) TokenFetchFailed() { m.failed.Add(1) }

// The token is fetched before the first handshake, with the client
// credentials as auth_method says, sent as Authorization: Bearer, and kept
// for the next connections while it is valid.
func TestOAuth2Handshake(t *testing.T) {
	for _, method := range []string{"basic", "post"} {
		t.Run(method, func(t *testing.T) {
			ts := wstest.StartTokenServer(t, wstest.TokenOptions{ClientID: "fluent", ClientSecret: "cs-secret", Lifetime: time.Hour})
			srv := wstest.StartWSServer(t, ts.Protect(wstest.WSOptions{}))
			cfg := oauthConfig(t, srv.URL(), ts, "oauth2.auth_method", method, "oauth2.scope", "logs:write logs:read",
				"oauth2.audience", "wss://ingest", "oauth2.user_agent", "fluent-bit-test")
			if want := "oauth2 from " + ts.URL() + " (auth_method " + method + ", refresh_skew_seconds 60)"; !strings.Contains(cfg.String(), want) {
				t.Errorf("startup line %q, want %q in it", cfg.String(), want)
			}
			m := &tokenCounts{}
			for i := range 2 {
				c, _ := newTestClient(t, cfg.Conn) // a new connection, the same credentials
				c.metrics = m
				if err := c.Send(websocket.TextMessage, each([][]byte{[]byte("x")})); err != nil {
					t.Fatalf("send %d: %v", i, err)
				}
			}
			reqs := ts.Requests()
			if len(reqs) != 1 || m.fetched.Load() != 1 || m.failed.Load() != 0 {
				t.Fatalf("%d token requests, metrics %d/%d: want one token for both connections", len(reqs), m.fetched.Load(), m.failed.Load())
			}
			r := reqs[0]
			basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("fluent:cs-secret"))
			if method == "basic" && (r.Authorization != basic || r.Form.Has("client_secret")) ||
				method == "post" && (r.Authorization != "" || r.Form.Get("client_id") != "fluent" || r.Form.Get("client_secret") != "cs-secret") {
				t.Errorf("client credentials sent as %q and %v", r.Authorization, r.Form)
			}
			if r.Form.Get("scope") != "logs:write logs:read" || r.Form.Get("audience") != "wss://ingest" || r.UserAgent != "fluent-bit-test" {
				t.Errorf("request %v, user agent %q", r.Form, r.UserAgent)
			}
			h := srv.Headers()
			if len(h) != 2 || !strings.HasPrefix(h[0].Get("Authorization"), "Bearer tok-") || h[1].Get("Authorization") != h[0].Get("Authorization") {
				t.Errorf("handshake headers %v", h)
			}
		})
	}
}

// A handshake refused with 401 (a token revoked early) gets one new token
// and one more try, in the same flush.
func TestOAuth2RefusedTokenRetried(t *testing.T) {
	ts := wstest.StartTokenServer(t, wstest.TokenOptions{ClientID: "fluent", ClientSecret: "cs-secret", Lifetime: time.Hour})
	var first atomic.Value
	srv := wstest.StartWSServer(t, wstest.WSOptions{Authorize: func(r *http.Request) int {
		if first.CompareAndSwap(nil, r.Header.Get("Authorization")) || r.Header.Get("Authorization") == first.Load() {
			return http.StatusUnauthorized // the first token is revoked
		}
		return 0
	}})
	c, log := newTestClient(t, oauthConfig(t, srv.URL(), ts).Conn)
	if err := c.Send(websocket.TextMessage, each([][]byte{[]byte("x")})); err != nil {
		t.Fatal(err)
	}
	if n := ts.Issued(); n != 2 {
		t.Errorf("%d tokens issued, want 2", n)
	}
	if log.count("warn", "") != 0 {
		t.Errorf("a refused token that a new one replaced is not worth a warning")
	}

	// A server that refuses every token: one retry, then a connection failure.
	refusing := wstest.StartWSServer(t, wstest.WSOptions{Status: http.StatusUnauthorized})
	c2, _ := newTestClient(t, oauthConfig(t, refusing.URL(), ts).Conn)
	err := c2.Send(websocket.TextMessage, each([][]byte{[]byte("x")}))
	if !errors.Is(err, errConnect) || !strings.Contains(err.Error(), "401") {
		t.Errorf("error %v, want a connect failure with the 401", err)
	}
	if n := refusing.Handshakes(); n != 0 {
		t.Errorf("%d handshakes accepted", n)
	}
}

// A token endpoint that refuses or cannot be reached is a connection
// failure: backoff, one warning naming the token URL, never the secret nor
// what the endpoint answered.
func TestOAuth2TokenEndpointDown(t *testing.T) {
	ts := wstest.StartTokenServer(t, wstest.TokenOptions{ClientID: "fluent", ClientSecret: "other", Lifetime: time.Hour, Echo: true})
	srv := wstest.StartWSServer(t, ts.Protect(wstest.WSOptions{}))
	cfg := oauthConfig(t, srv.URL(), ts)
	log := &recLogger{}
	c := newClient(cfg.Conn, scrubbing(log, cfg.Secrets), newStop(defaultGrace))
	closeAtEnd(t, log, c.Close)
	m := &tokenCounts{}
	c.metrics = m
	for range 3 {
		err := c.Send(websocket.TextMessage, each([][]byte{[]byte("x")}))
		if !errors.Is(err, errConnect) && !errors.Is(err, errServerDown) {
			t.Fatalf("error %v, want a connect failure", err)
		}
	}
	if n := log.count("warn", "no OAuth2 token from "+ts.URL()+": HTTP 401 Unauthorized (invalid_client)"); n != 1 {
		t.Errorf("%d warnings naming the token URL and the refusal, want 1", n)
	}
	if m.failed.Load() != 1 || m.fetched.Load() != 0 {
		t.Errorf("token metrics %d fetched, %d failed; want 0 and 1 (the backoff spares the endpoint)", m.fetched.Load(), m.failed.Load())
	}
	all := strings.Join(log.all(), "\n")
	for _, s := range []string{"cs-secret", "bad request", base64.StdEncoding.EncodeToString([]byte("fluent:cs-secret"))} {
		if strings.Contains(all, s) {
			t.Errorf("%q reached the log:\n%s", s, all)
		}
	}
	if srv.Handshakes() != 0 {
		t.Error("a handshake was made without a token")
	}
}

// A connection is retired when its token is due for renewal, before the
// server cuts it: the next flush gets a new token and a new connection,
// and the old one is closed by the plugin (1000), not by the server.
func TestOAuth2TokenRenewal(t *testing.T) {
	ts := wstest.StartTokenServer(t, wstest.TokenOptions{ClientID: "fluent", ClientSecret: "cs-secret", Lifetime: 2 * time.Second})
	srv := wstest.StartWSServer(t, ts.Protect(wstest.WSOptions{}))
	c, log := newTestClient(t, oauthConfig(t, srv.URL(), ts, "oauth2.refresh_skew_seconds", "1").Conn)
	if err := c.Send(websocket.TextMessage, each([][]byte{[]byte("one")})); err != nil {
		t.Fatal(err)
	}
	exp, _ := ts.Expiry(srv.Headers()[0].Get("Authorization"))
	time.Sleep(time.Until(exp.Add(-time.Second)) + 50*time.Millisecond) // past renewal, before expiry
	if err := c.Send(websocket.TextMessage, each([][]byte{[]byte("two")})); err != nil {
		t.Fatal(err)
	}
	if m := srv.WaitMessages(2, testTimeout); m[1].Conn != 2 {
		t.Errorf("the second chunk went on connection %d, want a new one", m[1].Conn)
	}
	if ts.Issued() != 2 {
		t.Errorf("%d tokens, want 2", ts.Issued())
	}
	if code, ok := srv.WaitCloseCode(1, testTimeout); !ok || code != websocket.CloseNormalClosure {
		t.Errorf("the first connection closed with %d (%v), want 1000 from the plugin", code, ok)
	}
	if log.count("warn", "") != 0 {
		t.Error("a renewal is routine: no warning")
	}

	// An idle connection the server cuts when its token expires: routine
	// too, a debug line.
	srv.WaitIdle(testTimeout)
	c2, log2 := newTestClient(t, oauthConfig(t, srv.URL(), ts, "oauth2.refresh_skew_seconds", "1").Conn)
	if err := c2.Send(websocket.TextMessage, each([][]byte{[]byte("three")})); err != nil {
		t.Fatal(err)
	}
	waitDead(t, c2)
	if log2.count("warn", "") != 0 || log2.count("debug", "closed a connection opened with a token now due for renewal") != 1 {
		t.Errorf("the server's close of an expired connection: want one debug line, no warning")
	}
}

// bearer_token_file is read at each handshake: a replaced file is used at
// the next one; a file that cannot be read keeps the last token, with one
// warning, and one line when it is back.
func TestBearerTokenFile(t *testing.T) {
	path := writeTestFile(t, t.TempDir(), "token", "tk-first\n")
	srv := wstest.StartWSServer(t, wstest.WSOptions{})
	cfg, err := loadConfig(mapSource{"uri": srv.URL(), "bearer_token_file": path}, coreEndpoint{}, "")
	if err != nil {
		t.Fatal(err)
	}
	log := &recLogger{}
	scrubbed := scrubbing(log, cfg.Secrets)
	send := func() {
		t.Helper()
		c := newClient(cfg.Conn, scrubbed, newStop(defaultGrace)) // a new handshake each time
		defer c.Close()
		if err := c.Send(websocket.TextMessage, each([][]byte{[]byte("x")})); err != nil {
			t.Fatal(err)
		}
	}
	send()
	replace := func(content string) {
		t.Helper()
		tmp := path + ".new"
		if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, path); err != nil {
			t.Fatal(err)
		}
	}
	replace("tk-second\r\n")
	send()
	os.Remove(path)
	send()
	send()
	replace("tk-third")
	send()
	var got []string
	for _, h := range srv.Headers() {
		got = append(got, h.Get("Authorization"))
	}
	if want := "Bearer tk-first,Bearer tk-second,Bearer tk-second,Bearer tk-second,Bearer tk-third"; strings.Join(got, ",") != want {
		t.Errorf("tokens sent %q, want %q", got, want)
	}
	if log.count("warn", "bearer_token_file: cannot read "+path) != 1 || log.count("info", "can be read again") != 1 {
		t.Errorf("want one warning while the file is missing and one line when it is back")
	}
	// Every token read is scrubbed, the current one and the one before.
	scrubbed.Warnf("echo %s %s", "tk-third", "tk-second")
	if l := log.all(); !strings.HasSuffix(l[len(l)-1], "echo xxxxx xxxxx") {
		t.Errorf("tokens read from the file reached the log: %s", l[len(l)-1])
	}
}

// http_passwd_file: Basic auth with http_user and the file's password.
func TestPasswordFile(t *testing.T) {
	path := writeTestFile(t, t.TempDir(), "pw", "pw-1\n")
	srv := wstest.StartWSServer(t, wstest.WSOptions{})
	cfg, err := loadConfig(mapSource{"uri": srv.URL(), "http_user": "fluent", "http_passwd_file": path}, coreEndpoint{}, "")
	if err != nil {
		t.Fatal(err)
	}
	c, _ := newTestClient(t, cfg.Conn)
	if err := c.Send(websocket.TextMessage, each([][]byte{[]byte("x")})); err != nil {
		t.Fatal(err)
	}
	if got, want := srv.Headers()[0].Get("Authorization"), "Basic "+base64.StdEncoding.EncodeToString([]byte("fluent:pw-1")); got != want {
		t.Errorf("Authorization %q, want %q", got, want)
	}
}

// The secrets that change are scrubbed while they are current or the one
// before; older ones are forgotten, so the scrubber does not grow.
func TestSecretSetLearn(t *testing.T) {
	s := &secretSet{}
	s.add("fixed-secret")
	src := new(int)
	for _, v := range []string{"tok-one", "tok-two", "tok-three"} {
		s.learn(src, v)
	}
	got := s.scrub("fixed-secret tok-one tok-two tok-three " + base64.RawStdEncoding.EncodeToString([]byte("tok-three")))
	if got != "xxxxx tok-one xxxxx xxxxx xxxxx" {
		t.Errorf("scrubbed %q", got)
	}
}

// private_key_jwt: a client assertion signed RS256 with the key, the
// certificate's thumbprint in the header jwt_header names, the client id
// as issuer and subject, the token URL as audience by default.
func TestPrivateKeyJWT(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "fluent"}, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyFile := writeTestFile(t, t.TempDir(), "key.pem", string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})))
	certFile := writeTestFile(t, t.TempDir(), "cert.pem", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	sha1Sum, sha256Sum := sha1.Sum(der), sha256.Sum256(der)
	var form atomic.Value
	tokenURL := startHTTPServer(t, func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		form.Store(r.PostForm)
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"access_token":"tok-jwt","token_type":"Bearer","expires_in":3600}`))
	}) + "/token"
	for header, want := range map[string]string{"": strings.ToUpper(hex.EncodeToString(sha1Sum[:])),
		"x5t": base64.RawURLEncoding.EncodeToString(sha1Sum[:]), "x5t#S256": base64.RawURLEncoding.EncodeToString(sha256Sum[:])} {
		src := mapSource{"uri": "ws://127.0.0.1:1/", "oauth2.enable": "on", "oauth2.token_url": tokenURL, "oauth2.client_id": "fluent",
			"oauth2.auth_method": "private_key_jwt", "oauth2.jwt_key_file": keyFile, "oauth2.jwt_cert_file": certFile, "oauth2.jwt_header": header}
		cfg, err := loadConfig(src, coreEndpoint{}, "")
		if err != nil {
			t.Fatal(err)
		}
		a, err := cfg.Conn.Auth.authorization(context.Background(), &recLogger{}, noMetrics{})
		if err != nil || a.header != "Bearer tok-jwt" {
			t.Fatalf("%q, %v", a.header, err)
		}
		f := form.Load().(url.Values)
		if f["client_assertion_type"][0] != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" || f["client_id"][0] != "fluent" || len(f["client_secret"]) != 0 {
			t.Fatalf("form %v", f)
		}
		parts := strings.Split(f["client_assertion"][0], ".")
		if len(parts) != 3 {
			t.Fatalf("assertion %q", f["client_assertion"][0])
		}
		sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
		sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
		if err := rsa.VerifyPKCS1v15(&key.PublicKey, crypto.SHA256, sum[:], sig); err != nil {
			t.Errorf("signature: %v", err)
		}
		var h map[string]string
		var claims map[string]any
		hb, _ := base64.RawURLEncoding.DecodeString(parts[0])
		cb, _ := base64.RawURLEncoding.DecodeString(parts[1])
		json.Unmarshal(hb, &h)
		json.Unmarshal(cb, &claims)
		name := header
		if name == "" {
			name = "kid"
		}
		if h["alg"] != "RS256" || h[name] != want {
			t.Errorf("header %v, want %s %s", h, name, want)
		}
		if claims["iss"] != "fluent" || claims["sub"] != "fluent" || claims["aud"] != tokenURL || claims["exp"].(float64)-claims["iat"].(float64) != 300 || claims["jti"] == "" {
			t.Errorf("claims %v", claims)
		}
	}
}

// The token endpoint's TLS trusts the system's CAs, not ws_tls.ca_file: an
// endpoint whose CA the system does not know fails, with the way out.
func TestOAuth2TokenEndpointTLS(t *testing.T) {
	idp := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"access_token":"tok-tls","token_type":"Bearer","expires_in":3600}`))
	}))
	t.Cleanup(idp.Close)
	cfg, err := loadConfig(mapSource{"uri": "ws://127.0.0.1:1/", "oauth2.enable": "on", "oauth2.token_url": idp.URL + "/token",
		"oauth2.client_id": "fluent", "oauth2.client_secret": "cs-secret"}, coreEndpoint{}, "")
	if err != nil {
		t.Fatal(err)
	}
	_, err = cfg.Conn.Auth.authorization(context.Background(), &recLogger{}, noMetrics{})
	if err == nil || !strings.Contains(err.Error(), "certificate signed by unknown authority") || !strings.Contains(err.Error(), "SSL_CERT_FILE") {
		t.Errorf("error %v, want an unknown authority with the way out", err)
	}
}
