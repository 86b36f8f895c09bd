package main

import "testing"

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
