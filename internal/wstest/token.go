package wstest

import (
	"crypto/rand"
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TokenOptions shape a TokenServer.
type TokenOptions struct {
	// ClientID and ClientSecret are the client credentials it takes, in
	// an Authorization: Basic header or in the body (RFC 6749 2.3.1).
	ClientID, ClientSecret string
	// Lifetime is each token's, sent as expires_in in whole seconds;
	// 0: no expires_in, and tokens never expire.
	Lifetime time.Duration
	// Echo makes every refusal's body quote the request (its
	// Authorization header and body), as a careless endpoint may.
	Echo bool
}

// TokenRequest is one request a TokenServer got.
type TokenRequest struct {
	Authorization string
	Form          url.Values
	UserAgent     string
}

// TokenServer is an OAuth2 token endpoint for the client-credentials
// grant (RFC 6749 4.4) on loopback, and the judge of the tokens it issued:
// Protect makes a WSServer accept only a current one.
type TokenServer struct {
	opts TokenOptions
	url  string

	mu       sync.Mutex
	status   int
	tokens   map[string]time.Time // issued, with their expiry (zero: never)
	requests []TokenRequest
}

// StartTokenServer starts a token endpoint that stops when the test ends.
func StartTokenServer(t testing.TB, opts TokenOptions) *TokenServer {
	t.Helper()
	s := &TokenServer{opts: opts, tokens: map[string]time.Time{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(s.serve), ReadHeaderTimeout: Timeout}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	s.url = "http://" + ln.Addr().String() + "/oauth2/token"
	return s
}

// URL is the token endpoint's.
func (s *TokenServer) URL() string { return s.url }

// SetStatus makes every later request fail with that HTTP status (0:
// serve again).
func (s *TokenServer) SetStatus(code int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status = code
}

// SetClientSecret changes the client secret it takes, as a rotation does.
func (s *TokenServer) SetClientSecret(secret string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opts.ClientSecret = secret
}

func (s *TokenServer) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.ParseForm() != nil {
		http.Error(w, "POST a form", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = append(s.requests, TokenRequest{Authorization: r.Header.Get("Authorization"), Form: r.PostForm, UserAgent: r.UserAgent()})
	refuse := func(status int, code string) {
		body := map[string]string{"error": code}
		if s.opts.Echo {
			body["error_description"] = "bad request: " + r.Header.Get("Authorization") + " " + r.PostForm.Encode()
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(body)
	}
	id, secret, basic := r.BasicAuth()
	if basic {
		id, _ = url.QueryUnescape(id)
		secret, _ = url.QueryUnescape(secret)
	} else {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	switch {
	case s.status != 0:
		refuse(s.status, "temporarily_unavailable")
	case r.PostForm.Get("grant_type") != "client_credentials":
		refuse(http.StatusBadRequest, "unsupported_grant_type")
	case id != s.opts.ClientID || secret != s.opts.ClientSecret:
		refuse(http.StatusUnauthorized, "invalid_client")
	default:
		tok := "tok-" + rand.Text()
		resp := map[string]any{"access_token": tok, "token_type": "bearer"}
		var exp time.Time
		if s.opts.Lifetime > 0 {
			resp["expires_in"] = int(s.opts.Lifetime.Seconds())
			exp = time.Now().Add(s.opts.Lifetime)
		}
		s.tokens[tok] = exp
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(resp)
	}
}

// Requests are the requests it got, in order.
func (s *TokenServer) Requests() []TokenRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]TokenRequest(nil), s.requests...)
}

// Tokens are the tokens it issued.
func (s *TokenServer) Tokens() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.tokens))
	for tok := range s.tokens {
		out = append(out, tok)
	}
	return out
}

// Issued counts the tokens it issued.
func (s *TokenServer) Issued() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.tokens)
}

// Expiry is when the token of an Authorization header ("Bearer <token>")
// expires (zero: never); false for a token it did not issue.
func (s *TokenServer) Expiry(authorization string) (time.Time, bool) {
	scheme, tok, _ := strings.Cut(authorization, " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return time.Time{}, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	exp, ok := s.tokens[tok]
	return exp, ok
}

// Protect makes a WSServer's options accept only a handshake that carries
// a token this endpoint issued and that has not expired (else 401), and
// close each connection when its token expires (1008, "token expired"),
// as servers that enforce expiry do. opts.Handle, if any, serves the
// connection meanwhile.
func (s *TokenServer) Protect(opts WSOptions) WSOptions {
	opts.Authorize = func(r *http.Request) int {
		exp, ok := s.Expiry(r.Header.Get("Authorization"))
		if !ok || !exp.IsZero() && !time.Now().Before(exp) {
			return http.StatusUnauthorized
		}
		return 0
	}
	serve := opts.Handle
	opts.Handle = func(c *Conn) {
		if exp, _ := s.Expiry(c.Request.Header.Get("Authorization")); !exp.IsZero() {
			expire := time.AfterFunc(time.Until(exp), func() {
				c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.ClosePolicyViolation, "token expired"), time.Now().Add(time.Second))
			})
			defer expire.Stop()
		}
		if serve != nil {
			serve(c)
			return
		}
		c.ReadMessages()
	}
	return opts
}
