package main

import (
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func TestRedact(t *testing.T) {
	tests := []struct{ key, value, want string }{
		{"uri", "/ingest?access_token=abc&v=2", "/ingest?access_token=xxxxx&v=xxxxx"},
		{"URI", "wss://user:pw@host:1/p?k=v#frag", "wss://xxxxx@host:1/p?k=xxxxx#xxxxx"},
		{"uri", "ws://token@host/p", "ws://xxxxx@host/p"},
		{"uri", "ws:/user:pw@host/p", "xxxxx@host/p"},
		{"uri", "/plain/path", "/plain/path"},
		{"uri", "/p?bare", "/p?xxxxx"},
		{"proxy", "http://u:pw@proxy:3128", "http://xxxxx@proxy:3128"},
		{"header", "X-Api-Key abc", "X-Api-Key xxxxx"},
		{"header.3", "Authorization: Bearer abc", "Authorization xxxxx"},
		{"header.1", "Cookie a=b", "Cookie xxxxx"},
		{"header", "X-Request-Source fluent", "X-Request-Source fluent"},
		{"header.2", "Authorization:Bearerabc", "Authorization xxxxx"},
		{"header", "nospace", "xxxxx"},
		{"bearer_token", "abc", "xxxxx"},
		{"http_passwd", "abc", "xxxxx"},
		{"format", "json", "json"},
		// Split at any white space: the tab does not put the secret in the name.
		{"header", "X-Token\tsecret more", "X-Token xxxxx"},
		{"header.1", "X-Token\u00a0secret", "X-Token xxxxx"},
		{"header", "\tX-Api-Key:\t secret", "X-Api-Key xxxxx"},
		{"header", "X-Token:secret", "X-Token xxxxx"},
		// Names that say a credential.
		{"header", "X-Credentials abc", "X-Credentials xxxxx"},
		{"header", "X-JWT-Assertion abc", "X-JWT-Assertion xxxxx"},
		{"header", "X-Passphrase abc", "X-Passphrase xxxxx"},
		{"header", "X-ApiKey abc", "X-ApiKey xxxxx"},
		{"header", "X-Private-Id abc", "X-Private-Id xxxxx"},
		{"header", "Set-Cookie a=b", "Set-Cookie xxxxx"},
		{"header", "X-Session abc", "X-Session xxxxx"},
		{"header", "X-Signature abc", "X-Signature xxxxx"},
		{"ws_tls.passphrase", "abc", "xxxxx"},
		{"client_assertion", "abc", "xxxxx"},
	}
	for _, tt := range tests {
		if got := redact(tt.key, tt.value); got != tt.want {
			t.Errorf("redact(%q, %q) = %q, want %q", tt.key, tt.value, got, tt.want)
		}
	}
}

// TestScrubbing: a line that quotes a credential the instance sends (a
// refusal echoing the request, say) reaches the log without it, in any of
// its forms: raw, inside a %q-quoted string, URL-escaped, base64.
func TestScrubbing(t *testing.T) {
	const (
		qs     = `qs"se\cret`     // in the uri's query, written escaped
		pw     = `pw "secret"`    // http_passwd
		key    = `key\secret/+`   // a header's value
		word   = "tab-secret"     // the second word of a header's value
		jwt    = "jwt-secret"     // a header whose name says it is one
		proxy  = "px-secret"      // the proxy's password
		bearer = "Bearer ignored" // not sent: http_user wins
	)
	cfg, err := loadConfig(mapSource{
		"uri":             "ws://127.0.0.1:1/p?access_token=" + url.QueryEscape(qs) + "&v=2",
		"http_user":       "fluent",
		"http_passwd":     pw,
		"header.1":        "X-Api-Key " + key,
		"header.2":        "X-Request-Source fluent-bit",
		"header.3":        "X-Auth-Token first\t" + word,
		"header.4":        "X-JWT-Assertion " + jwt,
		"proxy":           "http://squid:" + proxy + "@127.0.0.1:3128",
		"connect_timeout": "1",
	}, coreEndpoint{}, "")
	if err != nil {
		t.Fatal(err)
	}
	basic := base64.StdEncoding.EncodeToString([]byte("fluent:" + pw))
	rec := &recLogger{}
	log := scrubbing(rec, cfg.Secrets)
	var forms []string
	for _, s := range []string{qs, pw, key, word, jwt, proxy, "fluent:" + pw} {
		q := strconv.Quote(s)
		forms = append(forms, s, q[1:len(q)-1], url.QueryEscape(s), url.PathEscape(s),
			base64.StdEncoding.EncodeToString([]byte(s)), base64.URLEncoding.EncodeToString([]byte(s)))
		log.Warnf("refused: body %q", "GET /p?access_token="+s+" Authorization: Basic "+basic)
	}
	for _, f := range forms {
		log.Errorf("echo %s, %v", f, errors.New("x="+f+"&"))
	}
	log.Infof("v=%d from %s", 2, "fluent-bit")
	got := strings.Join(rec.all(), "\n")
	for _, f := range forms {
		if strings.Contains(got, f) {
			t.Errorf("%q reached the log: %s", f, got)
		}
	}
	if !strings.Contains(got, "v=2 from fluent-bit") || !strings.Contains(got, `"GET /p?access_token=xxxxx Authorization: xxxxx"`) {
		t.Errorf("scrubbed more than the secrets: %s", got)
	}
}

// Each word of a secret header's value is a secret, but an Authorization's
// scheme is not: "Bearer" may be said.
func TestSecretValues(t *testing.T) {
	c := connConfig{URL: "ws://u:pass@h/p?a=x%2Fyz&b=short", Header: http.Header{
		"Authorization": {"Bearer tok-1 tok-2"},
		"X-Token":       {"one-word\tsecond"},
		"X-Source":      {"not-a-secret"},
	}}
	got := secretValues(c, "http://squid:px-pass@proxy:1")
	for _, want := range []string{"Bearer tok-1 tok-2", "tok-1 tok-2", "tok-1", "tok-2", "one-word\tsecond", "one-word", "second",
		"u:pass", "pass", "x%2Fyz", "x/yz", "short", "squid:px-pass", "px-pass"} {
		if !slices.Contains(got, want) {
			t.Errorf("%q not among the secrets %q", want, got)
		}
	}
	for _, not := range []string{"Bearer", "not-a-secret"} {
		if slices.Contains(got, not) {
			t.Errorf("%q among the secrets %q", not, got)
		}
	}
}
