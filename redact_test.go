package main

import (
	"encoding/base64"
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
	}
	for _, tt := range tests {
		if got := redact(tt.key, tt.value); got != tt.want {
			t.Errorf("redact(%q, %q) = %q, want %q", tt.key, tt.value, got, tt.want)
		}
	}
}

// TestScrubbing: a line that quotes a credential the instance sends (a
// refusal echoing the request, say) reaches the log without it.
func TestScrubbing(t *testing.T) {
	cfg, err := loadConfig(mapSource{
		"uri":             "ws://127.0.0.1:1/p?access_token=qs-secret&v=2",
		"http_user":       "fluent",
		"http_passwd":     "pw-secret",
		"header.1":        "X-Api-Key key-secret",
		"header.2":        "X-Request-Source fluent-bit",
		"proxy":           "http://squid:px-secret@127.0.0.1:3128",
		"connect_timeout": "1",
	}, coreEndpoint{})
	if err != nil {
		t.Fatal(err)
	}
	basic := base64.StdEncoding.EncodeToString([]byte("fluent:pw-secret"))
	rec := &recLogger{}
	log := scrubbing(rec, cfg.Secrets)
	log.Warnf("refused: body %q", "GET /p?access_token=qs-secret Authorization: Basic "+basic+" X-Api-Key: key-secret via squid:px-secret")
	log.Infof("v=%d from %s", 2, "fluent-bit")
	got := strings.Join(rec.all(), "\n")
	for _, s := range []string{"qs-secret", basic, "pw-secret", "key-secret", "px-secret"} {
		if strings.Contains(got, s) {
			t.Errorf("%q reached the log: %s", s, got)
		}
	}
	if !strings.Contains(got, "v=2 from fluent-bit") || strings.Count(got, redacted) != 4 {
		t.Errorf("scrubbed more or less than the secrets: %s", got)
	}
}
