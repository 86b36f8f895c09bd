package main

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// credentials give each handshake an Authorization header that may change
// while the plugin runs: a token read from a file, a password read from a
// file, an OAuth2 access token. Fixed credentials are plain headers
// (loadHeaders) and need none.
type credentials interface {
	// authorization is the header's value for the next handshake, read or
	// fetched now if need be.
	authorization(ctx context.Context, log logger, m metricsSink) (authorization, error)
	// refused is told that the server answered 401 to a handshake made with
	// a; true when the next authorization will differ, so that one retry
	// is worth it.
	refused(a authorization) bool
}

// authorization is one value of the Authorization header.
type authorization struct {
	header string
	// renewAt is when a connection made with it is retired, before the
	// server may cut it for an expired token; zero: never.
	renewAt time.Time
}

// secretsOf names one changing secret of a credentials source in a
// secretSet.
type secretsOf struct {
	owner any
	what  string
}

// describeAuth names credentials for the startup line, without a secret.
func describeAuth(c credentials) string {
	switch c := c.(type) {
	case bearerFile:
		return "bearer_token_file " + c.token.path
	case *basicFile:
		return "http_passwd_file " + c.password.path
	case *tokenSource:
		return fmt.Sprintf("oauth2 from %s (auth_method %s, refresh_skew_seconds %d)", c.logURL, c.s.AuthMethod, int(c.s.RefreshSkew.Seconds()))
	}
	return ""
}

// maxSecretFile bounds what a secret file may hold: a token or a
// password, not a log file named by mistake.
const maxSecretFile = 64 << 10

// readSecretFile reads a secret from a file, trailing newlines trimmed
// (echo, a Kubernetes projected token, a Vault agent sink).
func readSecretFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxSecretFile+1))
	switch {
	case err != nil:
		return "", err
	case len(b) > maxSecretFile:
		return "", fmt.Errorf("%s holds more than %d bytes: not a secret", path, maxSecretFile)
	}
	v := strings.TrimRight(string(b), "\r\n")
	if v == "" {
		return "", fmt.Errorf("%s is empty", path)
	}
	return v, nil
}

// secretFile is a secret read from a file at each use, so that a file
// replaced while the plugin runs (a rotated token) takes effect at the
// next handshake. A file that cannot be read later keeps the last value
// read, with one warning until it can be read again.
type secretFile struct {
	key, path string
	secrets   *secretSet

	mu      sync.Mutex
	value   string
	failing bool
}

// newSecretFile reads the file once: at start, a file that is missing or
// empty is a configuration error naming key.
func newSecretFile(key, path string, secrets *secretSet) (*secretFile, error) {
	v, err := readSecretFile(path)
	if err != nil {
		return nil, fmt.Errorf("key '%s': %w", key, err)
	}
	f := &secretFile{key: key, path: path, secrets: secrets, value: v}
	secrets.learn(f, v)
	return f, nil
}

// read is the file's content now, or the last one read when it cannot be
// read.
func (f *secretFile) read(log logger) string {
	v, err := readSecretFile(f.path)
	f.mu.Lock()
	defer f.mu.Unlock()
	if err != nil {
		if !f.failing {
			log.Warnf("%s: cannot read %s: %v; the value read before is used until it can be read again", f.key, f.path, err)
		}
		f.failing = true
		return f.value
	}
	if f.failing {
		log.Infof("%s: %s can be read again", f.key, f.path)
		f.failing = false
	}
	if v != f.value {
		f.secrets.learn(f, v)
		f.value = v
		log.Debugf("%s: %s changed: the next handshakes use its new value", f.key, f.path)
	}
	return v
}

// bearerFile is bearer_token_file: Authorization: Bearer <the file>.
type bearerFile struct{ token *secretFile }

func (b bearerFile) authorization(_ context.Context, log logger, _ metricsSink) (authorization, error) {
	return authorization{header: "Bearer " + b.token.read(log)}, nil
}

func (bearerFile) refused(authorization) bool { return false }

// basicFile is http_user with http_passwd_file: Basic auth whose password
// is the file's.
type basicFile struct {
	user     string
	password *secretFile
	secrets  *secretSet
}

func (b *basicFile) authorization(_ context.Context, log logger, _ metricsSink) (authorization, error) {
	userPass := b.user + ":" + b.password.read(log)
	b.secrets.learn(b, userPass)
	return authorization{header: "Basic " + base64.StdEncoding.EncodeToString([]byte(userPass))}, nil
}

func (*basicFile) refused(authorization) bool { return false }

// OAuth2 client authentication methods (oauth2.auth_method), as Fluent
// Bit 5 names them.
const (
	authMethodBasic = "basic"
	authMethodPost  = "post"
	authMethodJWT   = "private_key_jwt"
)

// oauth2Keys are Fluent Bit 5's oauth2.* keys (src/flb_oauth2.c): its
// core takes no other oauth2* key.
var oauth2Keys = []string{"oauth2.enable", "oauth2.token_url", "oauth2.client_id", "oauth2.client_secret",
	"oauth2.user_agent", "oauth2.scope", "oauth2.audience", "oauth2.resource", "oauth2.auth_method",
	"oauth2.jwt_key_file", "oauth2.jwt_cert_file", "oauth2.jwt_aud", "oauth2.jwt_header",
	"oauth2.jwt_ttl_seconds", "oauth2.refresh_skew_seconds", "oauth2.timeout", "oauth2.connect_timeout"}

// clientSecretFileKey holds the OAuth2 client secret in a file. Not
// oauth2.client_secret_file: Fluent Bit 5's core takes every key that
// starts with "oauth2" and refuses those it does not know.
const clientSecretFileKey = "client_secret_file"

// isOAuth2Key tells the keys Fluent Bit 5's core keeps from a Go plugin
// (flb_output_set_property: every key starting with "oauth2").
func isOAuth2Key(key string) bool {
	return len(key) >= 6 && strings.EqualFold(key[:6], "oauth2")
}

// checkOAuth2Key refuses an oauth2* key Fluent Bit 5 does not know, in
// every version, so that a configuration means the same everywhere.
func checkOAuth2Key(key string) error {
	key = strings.ToLower(key)
	if !isOAuth2Key(key) || slices.Contains(oauth2Keys, key) {
		return nil
	}
	if key == "oauth2."+clientSecretFileKey {
		return fmt.Errorf("unknown key '%s': the OAuth2 client secret's file is key '%s' (Fluent Bit 5 refuses every oauth2.* key it does not know)", key, clientSecretFileKey)
	}
	return fmt.Errorf("unknown key '%s': the oauth2.* keys are %s", key, strings.Join(oauth2Keys, ", "))
}

// oauth2Settings are the oauth2.* keys of one endpoint.
type oauth2Settings struct {
	TokenURL, ClientID, ClientSecret, Scope, Audience, Resource, UserAgent string
	AuthMethod                                                             string
	JWTKeyFile, JWTCertFile, JWTAud, JWTHeader                             string
	JWTTTL, RefreshSkew, Timeout, ConnectTimeout                           time.Duration
}

// Fluent Bit 5's defaults.
const (
	defaultRefreshSkew = 60 * time.Second
	defaultJWTTTL      = 300 * time.Second
	defaultJWTHeader   = "kid"
)

// fbTime matches a Fluent Bit time value: whole seconds, or minutes,
// hours or days with m, h or d (flb_utils_time_to_seconds).
var fbTime = regexp.MustCompile(`^(\d{1,9})([smhdSMHD]?)$`)

// fbSeconds reads a Fluent Bit time value (FLB_CONFIG_MAP_TIME, e.g. 10s,
// 5m); 0 and unset are def.
func (r *keyReader) fbSeconds(key string, def time.Duration) time.Duration {
	v := strings.TrimSpace(r.src.Get(key))
	if v == "" {
		return def
	}
	m := fbTime.FindStringSubmatch(v)
	if m == nil {
		r.fail(key, v, "allowed: whole seconds, or with a unit: 30s, 5m, 1h, 1d")
		return def
	}
	n, _ := strconv.Atoi(m[1])
	d := time.Duration(n) * map[string]time.Duration{"": time.Second, "s": time.Second, "m": time.Minute, "h": time.Hour, "d": 24 * time.Hour}[strings.ToLower(m[2])]
	if d == 0 {
		return def
	}
	return d
}

// intSeconds reads a whole number of seconds (FLB_CONFIG_MAP_INT); as in
// Fluent Bit, 0 or less is def.
func (r *keyReader) intSeconds(key string, def time.Duration) time.Duration {
	v := strings.TrimSpace(r.src.Get(key))
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n > 1e8 {
		r.fail(key, v, "allowed: a whole number of seconds")
		return def
	}
	if n <= 0 {
		return def
	}
	return time.Duration(n) * time.Second
}

// loadCredentials reads the keys of credentials that change: bearer_token_file,
// http_passwd_file and the oauth2.* keys. h holds the fixed headers (from
// loadHeaders and a user:password@ in uri, which is userinfo);
// credentials read here replace what they set. The token endpoint is
// reached through proxy, as the WebSocket endpoint is.
func loadCredentials(r *keyReader, h http.Header, userinfo bool, c *connConfig, secrets *secretSet) credentials {
	// fixedAuth names the key that set a fixed Authorization header.
	fixedAuth := func() string {
		switch {
		case userinfo:
			return "uri"
		case r.src.Get("bearer_token") != "":
			return "bearer_token"
		case r.src.Get("http_user") != "":
			return "http_user"
		case h.Get("Authorization") != "":
			return "header"
		}
		return ""
	}
	conflict := func(a, b string) {
		r.errs = append(r.errs, fmt.Errorf("keys '%s' and '%s' conflict: both set the Authorization header; keep one", a, b))
	}
	file := func(key string) *secretFile {
		path := r.string(key, "")
		if path == "" {
			return nil
		}
		f, err := newSecretFile(key, path, secrets)
		if err != nil {
			r.errs = append(r.errs, err)
		}
		return f
	}
	tokenFile, passFile := r.string("bearer_token_file", ""), r.string("http_passwd_file", "")
	if r.bool("oauth2.enable", false) {
		switch {
		case fixedAuth() != "":
			conflict("oauth2.enable", fixedAuth())
		case tokenFile != "":
			conflict("oauth2.enable", "bearer_token_file")
		case passFile != "":
			conflict("oauth2.enable", "http_passwd_file")
		default:
			return loadOAuth2(r, c, secrets)
		}
		return nil
	}
	switch {
	case tokenFile != "" && passFile != "":
		conflict("bearer_token_file", "http_passwd_file")
	case tokenFile != "" && fixedAuth() != "":
		conflict("bearer_token_file", fixedAuth())
	case tokenFile != "":
		if f := file("bearer_token_file"); f != nil {
			return bearerFile{f}
		}
	case passFile != "" && r.src.Get("http_passwd") != "":
		conflict("http_passwd", "http_passwd_file")
	case passFile != "" && r.src.Get("http_user") == "":
		r.errs = append(r.errs, errors.New("key 'http_passwd_file' is set without 'http_user'"))
	case passFile != "" && userinfo:
		conflict("http_passwd_file", "uri")
	case passFile != "":
		if f := file("http_passwd_file"); f != nil {
			h.Del("Authorization")
			return &basicFile{user: r.src.Get("http_user"), password: f, secrets: secrets}
		}
	}
	return nil
}

// loadOAuth2 reads the oauth2.* keys of an endpoint whose oauth2.enable
// is on.
func loadOAuth2(r *keyReader, c *connConfig, secrets *secretSet) credentials {
	s := oauth2Settings{
		TokenURL:       r.string("oauth2.token_url", ""),
		ClientID:       r.string("oauth2.client_id", ""),
		ClientSecret:   r.src.Get("oauth2.client_secret"),
		Scope:          r.string("oauth2.scope", ""),
		Audience:       r.string("oauth2.audience", ""),
		Resource:       r.string("oauth2.resource", ""),
		UserAgent:      r.string("oauth2.user_agent", ""),
		AuthMethod:     strings.ToLower(r.string("oauth2.auth_method", authMethodBasic)),
		JWTKeyFile:     r.string("oauth2.jwt_key_file", ""),
		JWTCertFile:    r.string("oauth2.jwt_cert_file", ""),
		JWTAud:         r.string("oauth2.jwt_aud", ""),
		JWTHeader:      r.string("oauth2.jwt_header", defaultJWTHeader),
		JWTTTL:         r.intSeconds("oauth2.jwt_ttl_seconds", defaultJWTTTL),
		RefreshSkew:    r.intSeconds("oauth2.refresh_skew_seconds", defaultRefreshSkew),
		Timeout:        r.fbSeconds("oauth2.timeout", c.ConnectTimeout),
		ConnectTimeout: r.fbSeconds("oauth2.connect_timeout", 0),
	}
	ts := &tokenSource{s: s, secrets: secrets, fetching: make(chan struct{}, 1)}
	if u, err := url.Parse(s.TokenURL); s.TokenURL == "" {
		r.errs = append(r.errs, errors.New("key 'oauth2.enable' is on but 'oauth2.token_url' is not set"))
	} else if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		r.fail("oauth2.token_url", s.TokenURL, "allowed: an http:// or https:// URL")
	}
	ts.logURL = redact("uri", s.TokenURL)
	if s.ClientID == "" {
		r.errs = append(r.errs, errors.New("key 'oauth2.enable' is on but 'oauth2.client_id' is not set"))
	}
	secretFileKey := r.string(clientSecretFileKey, "")
	switch s.AuthMethod {
	case authMethodBasic, authMethodPost:
		switch {
		case s.ClientSecret != "" && secretFileKey != "":
			r.errs = append(r.errs, fmt.Errorf("keys 'oauth2.client_secret' and '%s' conflict: keep one", clientSecretFileKey))
		case secretFileKey != "":
			f, err := newSecretFile(clientSecretFileKey, secretFileKey, secrets)
			if err != nil {
				r.errs = append(r.errs, err)
			}
			ts.secretFile = f
		case s.ClientSecret == "":
			r.errs = append(r.errs, fmt.Errorf("key 'oauth2.enable' is on but neither 'oauth2.client_secret' nor '%s' is set (oauth2.auth_method %s)", clientSecretFileKey, s.AuthMethod))
		default:
			secrets.add(clientSecrets(s.ClientID, s.ClientSecret)...)
		}
	case authMethodJWT:
		if s.JWTKeyFile == "" || s.JWTCertFile == "" {
			r.errs = append(r.errs, errors.New("oauth2.auth_method private_key_jwt needs 'oauth2.jwt_key_file' and 'oauth2.jwt_cert_file'"))
		} else if _, _, err := loadJWTKey(s.JWTKeyFile, s.JWTCertFile, s.JWTHeader); err != nil {
			r.errs = append(r.errs, err)
		}
	default:
		r.fail("oauth2.auth_method", s.AuthMethod, "allowed: basic, post, private_key_jwt")
	}
	ts.client = tokenClient(s, c.Proxy)
	return ts
}

// clientSecrets are the forms of a client secret a request to the token
// endpoint carries: itself, and the id:secret of its Basic header, whose
// parts are URL-escaped first (RFC 6749 2.3.1).
func clientSecrets(id, secret string) []string {
	return []string{secret, id + ":" + secret, url.QueryEscape(id) + ":" + url.QueryEscape(secret)}
}

// tokenClient makes the requests to the token endpoint: the system's CA
// roots (SSL_CERT_FILE, SSL_CERT_DIR), certificates always checked, as
// Fluent Bit 5's own OAuth2 client; through the WebSocket endpoint's
// proxy; no redirect followed, so that the client secret goes nowhere but
// to the token URL.
func tokenClient(s oauth2Settings, proxy func(*http.Request) (*url.URL, error)) *http.Client {
	dialer := &net.Dialer{Timeout: s.ConnectTimeout}
	var rt http.RoundTripper = &http.Transport{
		Proxy:               proxy,
		DialContext:         dialer.DialContext,
		TLSClientConfig:     &tls.Config{MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout: s.ConnectTimeout,
		ForceAttemptHTTP2:   true,
		// A token is fetched once in its life: no connection is kept for
		// the next, to outlive the instance.
		DisableKeepAlives: true,
	}
	if s.UserAgent != "" {
		rt = userAgent{rt, s.UserAgent}
	}
	return &http.Client{Transport: rt, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// userAgent sets oauth2.user_agent on the token requests.
type userAgent struct {
	base http.RoundTripper
	ua   string
}

func (u userAgent) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.Header.Set("User-Agent", u.ua)
	return u.base.RoundTrip(req)
}

// tokenSource is an OAuth2 client-credentials flow (RFC 6749 4.4): it
// fetches an access token before a handshake that has none, and a new one
// refresh_skew_seconds before it expires, or at once after a 401.
type tokenSource struct {
	s          oauth2Settings
	logURL     string      // the token URL as log lines show it
	secretFile *secretFile // client_secret_file
	client     *http.Client
	secrets    *secretSet
	fetching   chan struct{} // held by the one fetch at a time

	mu    sync.Mutex
	token authorization
}

func (ts *tokenSource) current(now time.Time) (authorization, bool) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.token, ts.token.header != "" && (ts.token.renewAt.IsZero() || now.Before(ts.token.renewAt))
}

// authorization is the current token, fetched first when there is none or
// it is due; handshakes that need one at once share one fetch.
func (ts *tokenSource) authorization(ctx context.Context, log logger, m metricsSink) (authorization, error) {
	if a, ok := ts.current(time.Now()); ok {
		return a, nil
	}
	select {
	case ts.fetching <- struct{}{}:
		defer func() { <-ts.fetching }()
	case <-ctx.Done():
		return authorization{}, context.Cause(ctx)
	}
	if a, ok := ts.current(time.Now()); ok {
		return a, nil // fetched while this one waited
	}
	a, err := ts.fetch(ctx, log)
	if err != nil {
		m.TokenFetchFailed()
		return authorization{}, err
	}
	m.TokenFetched()
	ts.mu.Lock()
	ts.token = a
	ts.mu.Unlock()
	return a, nil
}

// refused drops the token the server refused, unless a newer one came
// meanwhile: the next authorization fetches one.
func (ts *tokenSource) refused(a authorization) bool {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.token.header == a.header {
		ts.token = authorization{}
	}
	return true
}

// fetch asks the token endpoint for a token, within oauth2.timeout.
func (ts *tokenSource) fetch(ctx context.Context, log logger) (authorization, error) {
	ctx, cancel := context.WithTimeout(ctx, ts.s.Timeout)
	defer cancel()
	cc := clientcredentials.Config{ClientID: ts.s.ClientID, TokenURL: ts.s.TokenURL, EndpointParams: url.Values{}}
	if ts.s.Scope != "" {
		cc.Scopes = []string{ts.s.Scope}
	}
	for k, v := range map[string]string{"audience": ts.s.Audience, "resource": ts.s.Resource} {
		if v != "" {
			cc.EndpointParams.Set(k, v)
		}
	}
	switch ts.s.AuthMethod {
	case authMethodBasic, authMethodPost:
		cc.ClientSecret = ts.s.ClientSecret
		if ts.secretFile != nil {
			cc.ClientSecret = ts.secretFile.read(log)
			ts.secrets.learn(secretsOf{ts, "client secret"}, clientSecrets(ts.s.ClientID, cc.ClientSecret)...)
		}
		cc.AuthStyle = oauth2.AuthStyleInHeader
		if ts.s.AuthMethod == authMethodPost {
			cc.AuthStyle = oauth2.AuthStyleInParams
		}
	case authMethodJWT:
		assertion, err := ts.assertion(time.Now())
		if err != nil {
			return authorization{}, fmt.Errorf("no OAuth2 token from %s: %w", ts.logURL, err)
		}
		ts.secrets.learn(secretsOf{ts, "client assertion"}, assertion)
		cc.AuthStyle = oauth2.AuthStyleInParams
		cc.EndpointParams.Set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
		cc.EndpointParams.Set("client_assertion", assertion)
	}
	start := time.Now()
	tok, err := cc.Token(context.WithValue(ctx, oauth2.HTTPClient, ts.client))
	if err != nil {
		return authorization{}, fmt.Errorf("no OAuth2 token from %s: %w", ts.logURL, tokenError(ctx, ts.s.Timeout, err))
	}
	header := tok.Type() + " " + tok.AccessToken
	ts.secrets.learn(secretsOf{ts, "access token"}, tok.AccessToken)
	a := authorization{header: header}
	if !tok.Expiry.IsZero() {
		// Half-way through the token's life when it lives no longer than
		// twice refresh_skew_seconds.
		a.renewAt = tok.Expiry.Add(-min(ts.s.RefreshSkew, tok.Expiry.Sub(start)/2))
	}
	log.Debugf("OAuth2 token from %s, valid until %s", ts.logURL, validUntil(tok.Expiry))
	return a, nil
}

func validUntil(t time.Time) string {
	if t.IsZero() {
		return "the server refuses it (the answer has no expires_in)"
	}
	return t.Format(time.RFC3339)
}

// oauth2ErrorCodes are RFC 6749 5.2's: the only part of a refusal's body
// that reaches the log, which may carry nothing the endpoint sent back.
var oauth2ErrorCodes = []string{"invalid_request", "invalid_client", "invalid_grant", "unauthorized_client", "unsupported_grant_type", "invalid_scope"}

// tokenError says why no token came, without the endpoint's answer: its
// body may quote the request, client secret included.
func tokenError(ctx context.Context, timeout time.Duration, err error) error {
	var re *oauth2.RetrieveError
	var ue *url.Error
	switch {
	case errors.As(err, &re):
		msg := "HTTP " + re.Response.Status
		if slices.Contains(oauth2ErrorCodes, re.ErrorCode) {
			msg += " (" + re.ErrorCode + ")"
		}
		if re.Response.StatusCode >= 300 && re.Response.StatusCode < 400 {
			msg += ": a redirect, which is not followed (set oauth2.token_url to where it leads)"
		}
		return errors.New(msg)
	case ctx.Err() != nil && errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("no answer within %v (oauth2.timeout)", timeout)
	case errors.As(err, &ue):
		// url.Error names the URL as written, query included.
		var unknown x509.UnknownAuthorityError
		hint := ""
		if errors.As(ue.Err, &unknown) {
			hint = " (its certificate is not signed by a CA this system trusts: add the CA with SSL_CERT_FILE; ws_tls.ca_file is for the WebSocket endpoint only)"
		}
		return fmt.Errorf("%s: %w%s", strings.ToLower(ue.Op), ue.Err, hint)
	case strings.Contains(err.Error(), "missing access_token"):
		return errors.New("the answer holds no access_token")
	}
	return errors.New("the answer is not a token response (RFC 6749 5.1)")
}

// assertion is a private_key_jwt client assertion (RFC 7523), as Fluent
// Bit 5 makes it: RS256, the certificate's thumbprint in the header
// oauth2.jwt_header, issuer and subject the client id, audience
// oauth2.jwt_aud (else the token URL), valid oauth2.jwt_ttl_seconds.
func (ts *tokenSource) assertion(now time.Time) (string, error) {
	key, thumbprint, err := loadJWTKey(ts.s.JWTKeyFile, ts.s.JWTCertFile, ts.s.JWTHeader)
	if err != nil {
		return "", err
	}
	aud := ts.s.JWTAud
	if aud == "" {
		aud = ts.s.TokenURL
	}
	header, _ := json.Marshal(map[string]string{"alg": "RS256", "typ": "JWT", ts.s.JWTHeader: thumbprint})
	claims, _ := json.Marshal(map[string]any{"iss": ts.s.ClientID, "sub": ts.s.ClientID, "aud": aud,
		"iat": now.Unix(), "exp": now.Add(ts.s.JWTTTL).Unix(), "jti": rand.Text()})
	signed := base64.RawURLEncoding.EncodeToString(header) + "." + base64.RawURLEncoding.EncodeToString(claims)
	sum := sha256.Sum256([]byte(signed))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		return "", fmt.Errorf("oauth2.jwt_key_file: cannot sign: %w", err)
	}
	return signed + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}

// loadJWTKey reads the RSA key (PEM, PKCS #1 or #8) and the certificate
// (PEM or DER) of private_key_jwt, and the certificate's thumbprint as
// header names it: x5t, base64url SHA-1; x5t#S256, base64url SHA-256;
// any other (kid), SHA-1 in upper-case hex, as Fluent Bit.
func loadJWTKey(keyFile, certFile, header string) (*rsa.PrivateKey, string, error) {
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, "", fmt.Errorf("key 'oauth2.jwt_key_file': %w", err)
	}
	block, _ := pem.Decode(keyPEM)
	if block == nil {
		return nil, "", fmt.Errorf("key 'oauth2.jwt_key_file': no PEM block in %s", keyFile)
	}
	var key *rsa.PrivateKey
	if k, err := x509.ParsePKCS1PrivateKey(block.Bytes); err == nil {
		key = k
	} else if k, err := x509.ParsePKCS8PrivateKey(block.Bytes); err == nil {
		key, _ = k.(*rsa.PrivateKey)
	}
	if key == nil {
		return nil, "", fmt.Errorf("key 'oauth2.jwt_key_file': %s holds no RSA private key (PKCS #1 or #8, unencrypted): private_key_jwt signs with RS256", keyFile)
	}
	der, err := os.ReadFile(certFile)
	if err != nil {
		return nil, "", fmt.Errorf("key 'oauth2.jwt_cert_file': %w", err)
	}
	if b, _ := pem.Decode(der); b != nil {
		der = b.Bytes
	}
	if _, err := x509.ParseCertificate(der); err != nil {
		return nil, "", fmt.Errorf("key 'oauth2.jwt_cert_file': %s holds no X.509 certificate (PEM or DER)", certFile)
	}
	switch strings.ToLower(header) {
	case "x5t":
		sum := sha1.Sum(der)
		return key, base64.RawURLEncoding.EncodeToString(sum[:]), nil
	case "x5t#s256":
		sum := sha256.Sum256(der)
		return key, base64.RawURLEncoding.EncodeToString(sum[:]), nil
	}
	sum := sha1.Sum(der)
	return key, strings.ToUpper(hex.EncodeToString(sum[:])), nil
}
