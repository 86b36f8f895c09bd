package main

import (
	"crypto/tls"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/out-websocket/out_websocket/encoder"
)

// mapSource is an [OUTPUT] section as Fluent Bit shows it: keys matched
// case-insensitively, absent keys read as "".
type mapSource map[string]string

func (m mapSource) Get(key string) string {
	for k, v := range m {
		if strings.EqualFold(k, key) {
			return v
		}
	}
	return ""
}

func TestResolveEndpoint(t *testing.T) {
	tests := []struct {
		name    string
		uri     string
		tls     bool
		core    coreEndpoint
		want    string
		wantErr string
		warn    bool
	}{
		{name: "defaults as the built-in", want: "ws://127.0.0.1:80/"},
		{name: "host and port from the core", uri: "/something", core: coreEndpoint{Host: "example.test", Port: 8080}, want: "ws://example.test:8080/something"},
		{name: "missing leading slash added", uri: "something", want: "ws://127.0.0.1:80/something"},
		{name: "tls default port", tls: true, core: coreEndpoint{Host: "h"}, want: "wss://h:443/"},
		{name: "path of -o", core: coreEndpoint{Host: "h", Port: 1, Path: "/p"}, want: "ws://h:1/p"},
		{name: "same path in -o and uri", uri: "/p", core: coreEndpoint{Path: "/p"}, want: "ws://127.0.0.1:80/p"},
		{name: "query kept", uri: "/p?a=b", want: "ws://127.0.0.1:80/p?a=b"},
		{name: "ipv6 host", core: coreEndpoint{Host: "::1", Port: 9}, want: "ws://[::1]:9/"},
		{name: "full url", uri: "ws://example.test:9000/x", want: "ws://example.test:9000/x"},
		{name: "full wss url default port", uri: "wss://example.test", want: "wss://example.test/"},
		{name: "full url agrees with host", uri: "ws://h:81/x", core: coreEndpoint{Host: "H", Port: 81}, want: "ws://h:81/x"},
		{name: "full url host conflict", uri: "ws://a:81/x", core: coreEndpoint{Host: "b"}, wantErr: "keys 'host' and 'uri' conflict"},
		{name: "full url port conflict", uri: "ws://a/x", core: coreEndpoint{Port: 81}, wantErr: "keys 'port' and 'uri' conflict"},
		{name: "full url path conflict", uri: "ws://a/x", core: coreEndpoint{Path: "/y"}, wantErr: "conflict"},
		{name: "path conflict", uri: "/x", core: coreEndpoint{Path: "/y"}, wantErr: "conflict"},
		{name: "tls with ws url", uri: "ws://a/x", tls: true, wantErr: "keys 'ws_tls' and 'uri' conflict"},
		{name: "http url refused", uri: "http://a/x", wantErr: "key 'uri'"},
		{name: "core unreadable warns", core: coreEndpoint{Err: errors.New("no symbols")}, want: "ws://127.0.0.1:80/", warn: true},
		{name: "core unreadable, full url works", uri: "ws://a:1/b", core: coreEndpoint{Err: errors.New("no symbols")}, want: "ws://a:1/b"},
		{name: "path escapes as written", uri: "/a%20b/c%2Fd?x=1%202", want: "ws://127.0.0.1:80/a%20b/c%2Fd?x=1%202"},
		{name: "fragment dropped", uri: "/a#frag", want: "ws://127.0.0.1:80/a", warn: true},
		{name: "full url fragment dropped", uri: "ws://a:1/b#frag", want: "ws://a:1/b", warn: true},
		{name: "port 0", uri: "ws://a:0/b", wantErr: "allowed: 1 to 65535"},
		{name: "port 99999", uri: "ws://a:99999/b", wantErr: "allowed: 1 to 65535"},
		{name: "broken escape", uri: "/a%zz", wantErr: "key 'uri'"},
		{name: "Port 99999 beside Host", core: coreEndpoint{Host: "example.com", Port: 99999}, wantErr: "invalid value 99999 for key 'port': allowed: 1 to 65535"},
		{name: "Port abc as written", core: coreEndpoint{Host: "example.com", PortText: "abc", PortKnown: true}, wantErr: `invalid value "abc" for key 'port'`},
		{name: "Port 0 as written", core: coreEndpoint{Host: "example.com", PortText: "0", PortKnown: true}, wantErr: `invalid value "0" for key 'port'`},
		{name: "Port 8700 as written", core: coreEndpoint{Host: "example.com", Port: 8700, PortText: "8700", PortKnown: true}, want: "ws://example.com:8700/"},
		{name: "Port -1", core: coreEndpoint{Port: -1}, wantErr: "key 'port': allowed: 1 to 65535"},
		{name: "Port 99999 beside a full url", uri: "ws://a:99999/b", core: coreEndpoint{Port: 99999}, wantErr: "key 'port': allowed: 1 to 65535"},
		{name: "secret in a refused url", uri: "http://u:SECRET@a/x?token=SECRET", wantErr: "key 'uri'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, warn, err := resolveEndpoint(tt.uri, tt.tls, tt.core)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || strings.Contains(err.Error(), "SECRET") {
					t.Fatalf("error %v, want one containing %q and no secret", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if u.String() != tt.want {
				t.Errorf("endpoint %s, want %s", u, tt.want)
			}
			if (warn != "") != tt.warn {
				t.Errorf("warning %q, want one: %v", warn, tt.warn)
			}
		})
	}
}

func TestLoadConfigDefaults(t *testing.T) {
	cfg, err := loadConfig(mapSource{}, coreEndpoint{}, "")
	if err != nil {
		t.Fatal(err)
	}
	c := cfg.Conn
	if c.URL != "ws://127.0.0.1:80/" || c.IdleInterval != 20*time.Second || c.ConnectTimeout != 10*time.Second ||
		c.WriteTimeout != 30*time.Second || c.PingInterval != 0 || c.TLS != nil || c.Compression {
		t.Errorf("defaults: %+v", c)
	}
	e := cfg.Encoder
	if e.Format != encoder.Msgpack || e.DateKey != "date" || e.DateFormat != encoder.DateDouble || !e.EscapeUnicode || e.MaxMessageSize != 0 {
		t.Errorf("encoder defaults: %+v", e)
	}
	if e.GELF.ShortMessage != "short_message" || e.GELF.Timestamp != "timestamp" {
		t.Errorf("gelf defaults: %+v", e.GELF)
	}
}

func TestLoadConfigValues(t *testing.T) {
	cfg, err := loadConfig(mapSource{
		"Format": "JSON_LINES", "json_date_key": "off", "json_date_format": "epoch_millis",
		"json_escape_unicode": "no", "Idle_Interval": "21", "ping_interval": "0.5",
		"max_message_size": "64K", "header": "X-One 1", "header.1": "X-Two two words",
		"header.7": "X-Two again", "http_user": "u", "http_passwd": "p", "origin": "https://o.test",
		"subprotocols": "a, b", "subprotocol_required": "on", "compress": "true",
		"ws_tls": "on", "ws_tls.verify": "off", "ws_tls.min_version": "1.3", "ws_tls.vhost": "v.test",
	}, coreEndpoint{Host: "h", Port: 1}, "")
	if err != nil {
		t.Fatal(err)
	}
	e, c := cfg.Encoder, cfg.Conn
	if e.Format != encoder.JSONLines || e.DateKey != "" || e.DateFormat != encoder.DateEpochMillis || e.EscapeUnicode || e.MaxMessageSize != 64000 {
		t.Errorf("encoder: %+v", e)
	}
	if c.URL != "wss://h:1/" || c.IdleInterval != 21*time.Second || c.PingInterval != 500*time.Millisecond || !c.Compression {
		t.Errorf("conn: %+v", c)
	}
	if got := c.Header.Values("X-Two"); len(got) != 2 || got[0] != "two words" || c.Header.Get("X-One") != "1" {
		t.Errorf("headers: %v", c.Header)
	}
	if c.Header.Get("Authorization") != "Basic dTpw" || c.Header.Get("Origin") != "https://o.test" {
		t.Errorf("auth headers: %v", c.Header)
	}
	if len(c.Subprotocols) != 2 || c.Subprotocols[1] != "b" || !c.RequireSubprotocol {
		t.Errorf("subprotocols: %v %v", c.Subprotocols, c.RequireSubprotocol)
	}
	if !c.TLS.InsecureSkipVerify || c.TLS.MinVersion != tls.VersionTLS13 || c.TLS.ServerName != "v.test" {
		t.Errorf("tls: %+v", c.TLS)
	}
	if len(cfg.Warnings) != 1 || !strings.Contains(cfg.Warnings[0], "ws_tls.verify is off") {
		t.Errorf("warnings: %q", cfg.Warnings)
	}
}

// Each bad value stops Init with one message naming the key, the value and
// what is allowed.
func TestLoadConfigErrors(t *testing.T) {
	tests := []struct {
		key, value string
		want       []string
	}{
		{"format", "xml", []string{"'format'", `"xml"`, "json_lines", "gelf"}},
		{"json_date_format", "unix", []string{"'json_date_format'", `"unix"`, "iso8601", "java_sql_timestamp"}},
		{"json_escape_unicode", "maybe", []string{"'json_escape_unicode'", `"maybe"`, "on, off"}},
		{"idle_interval", "soon", []string{"'idle_interval'", `"soon"`, "seconds"}},
		{"idle_interval", "-1", []string{"'idle_interval'", "seconds"}},
		{"connect_timeout", "0", []string{"'connect_timeout'", "above 0"}},
		{"write_timeout", "-1", []string{"'write_timeout'", "above 0"}},
		{"ping_timeout", "x", []string{"'ping_timeout'", `"x"`, "above 0"}},
		{"max_message_size", "lots", []string{"'max_message_size'", `"lots"`, "64K"}},
		{"header", "NoValue:", []string{"'header'", "header name"}},
		{"header.3", "Bad\tName v", []string{"'header.3'"}},
		{"uri", "http://a/", []string{"'uri'", "ws://"}},
		{"proxy", "socks://p", []string{"'proxy'", "http://"}},
		{"ws_tls.ca_file", "/nonexistent/ca.pem", []string{"ws_tls"}},
		{"ws_tls.min_version", "1.9", []string{"'ws_tls.min_version'", "1.2, 1.3"}},
		{"subprotocol_required", "on", []string{"'subprotocols'"}},
		{"http_passwd", "p", []string{"'http_user'"}},
	}
	for _, tt := range tests {
		t.Run(tt.key+"="+tt.value, func(t *testing.T) {
			src := mapSource{tt.key: tt.value}
			if strings.HasPrefix(tt.key, "ws_tls.") {
				src["ws_tls"] = "on"
			}
			_, err := loadConfig(src, coreEndpoint{}, "")
			if err == nil {
				t.Fatal("no error")
			}
			if n := len(strings.Split(err.Error(), "\n")); n != 1 {
				t.Errorf("%d errors, want 1: %q", n, err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestLoadConfigReportsEveryError(t *testing.T) {
	_, err := loadConfig(mapSource{"format": "xml", "idle_interval": "x"}, coreEndpoint{}, "")
	if err == nil || !strings.Contains(err.Error(), "'format'") || !strings.Contains(err.Error(), "'idle_interval'") {
		t.Fatalf("error %v, want both keys named", err)
	}
}

func TestTLSKeysNeedWSS(t *testing.T) {
	_, err := loadConfig(mapSource{"ws_tls.verify": "off"}, coreEndpoint{}, "")
	if err == nil || !strings.Contains(err.Error(), "not wss://") {
		t.Fatalf("error %v", err)
	}
}

// Fluent Bit's own tls keys, as written in the [OUTPUT]: `tls on` (in any
// form flb_utils_bool takes) is refused, naming ws_tls; `tls off` passes;
// each tls.* key is a warning naming this plugin's key, if it has one.
func TestCoreTLSKeys(t *testing.T) {
	tests := []struct {
		keys     map[string]string
		err      bool
		warnings []string
	}{
		{keys: map[string]string{"tls": "on"}, err: true},
		{keys: map[string]string{"tls": " Yes"}, err: true},
		{keys: map[string]string{"tls": "TRUE", "tls.verify": "off"}, err: true, warnings: []string{"'tls.verify' is Fluent Bit's and does nothing for this plugin: use 'ws_tls.verify'"}},
		{keys: map[string]string{"tls": "off"}},
		{keys: map[string]string{"tls.debug": "4", "tls.ca_file": "/ca.pem"}, warnings: []string{"'tls.ca_file'", "'tls.debug' is Fluent Bit's and does nothing for this plugin, which has no such setting"}},
		{},
	}
	for _, tt := range tests {
		cfg, err := loadConfig(mapSource{"uri": "ws://h/"}, coreEndpoint{TLSKeys: tt.keys}, "")
		if tt.err != (err != nil) || err != nil && !strings.Contains(err.Error(), "key 'tls'") || err != nil && !strings.Contains(err.Error(), "'ws_tls on'") {
			t.Errorf("%v: error %v, want one: %v", tt.keys, err, tt.err)
		}
		if err != nil {
			continue
		}
		if len(cfg.Warnings) != len(tt.warnings) {
			t.Errorf("%v: warnings %q, want %q", tt.keys, cfg.Warnings, tt.warnings)
			continue
		}
		for i, w := range tt.warnings {
			if !strings.Contains(cfg.Warnings[i], w) {
				t.Errorf("%v: warning %q, want %q", tt.keys, cfg.Warnings[i], w)
			}
		}
	}
}

// TestLoadConfigHardening: settings that would break every connection are
// refused at start, naming the key and never quoting a secret; URI
// userinfo becomes Basic authentication.
func TestLoadConfigHardening(t *testing.T) {
	tests := []struct {
		name    string
		src     mapSource
		wantErr string
	}{
		{"reserved header", mapSource{"header": "Upgrade h2c"}, "header Upgrade"},
		{"reserved numbered header", mapSource{"header.7": "sec-websocket-key abc"}, "Sec-Websocket-Key"},
		{"protocol header with subprotocols", mapSource{"subprotocols": "a", "header": "Sec-WebSocket-Protocol b"}, "Sec-Websocket-Protocol"},
		{"protocol header alone", mapSource{"header": "Sec-WebSocket-Protocol b"}, ""},
		{"ping_interval too short", mapSource{"ping_interval": "0.000001"}, "'ping_interval'"},
		{"ping_interval off", mapSource{"ping_interval": "0"}, ""},
		{"message_size_limit too small", mapSource{"message_size_limit": "10"}, "'message_size_limit'"},
		{"message_size_limit too large", mapSource{"message_size_limit": "2G"}, "'message_size_limit'"},
		{"max_message_size above the limit", mapSource{"max_message_size": "2M", "message_size_limit": "1M"}, "raise message_size_limit"},
		{"userinfo and bearer_token", mapSource{"uri": "ws://u:SECRET@h/x", "bearer_token": "SECRET2"}, "user:password@"},
		{"broken header quoted redacted", mapSource{"header": "Authorization:SECRET"}, "'header'"},
		{"broken proxy quoted redacted", mapSource{"proxy": "htp://u:SECRET@p:1"}, "'proxy'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := loadConfig(tt.src, coreEndpoint{}, "")
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatal(err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
			case err != nil && strings.Contains(err.Error(), "SECRET"):
				t.Fatalf("error quotes a secret: %v", err)
			}
		})
	}
	cfg, err := loadConfig(mapSource{"uri": "ws://user:p%40ss@h:1/x?token=SECRET"}, coreEndpoint{}, "")
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Conn.Header.Get("Authorization"); got != "Basic dXNlcjpwQHNz" || cfg.Conn.URL != "ws://h:1/x?token=SECRET" {
		t.Errorf("Authorization %q, URL %q", got, cfg.Conn.URL)
	}
	if s := cfg.String(); strings.Contains(s, "SECRET") || strings.Contains(s, "p@ss") || cfg.Conn.LogURL != "ws://h:1/x?token=xxxxx" {
		t.Errorf("startup line %q, log URL %q", s, cfg.Conn.LogURL)
	}
}
