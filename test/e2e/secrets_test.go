package e2e

import (
	"bufio"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/out-websocket/out_websocket/internal/hosttest"
	"github.com/out-websocket/out_websocket/internal/reference"
	"github.com/out-websocket/out_websocket/internal/wstest"
)

// No secret reaches the log, whatever happens: every secret-bearing key and
// form gets a secret of its own, and eleven runs at Log_Level debug (records
// delivered, server down, 401, bad configuration, a refusal and a close
// reason that quote the request back) must print none of them in any form
// (raw, inside a %q-quoted string, URL-escaped, base64, and the base64 of a
// Basic credential), anywhere in the host's output. Some secrets hold a
// quote or a backslash, which %q escapes; the query's is written
// URL-escaped in the uri. The credentials that rotate are in it too: an
// OAuth2 client secret (in the config or a file) sent to a token endpoint
// that quotes the request back in its refusal, the tokens it issues quoted
// back in a close reason, a token file and a password file quoted back in
// a refusal.
func TestSecretsNeverLogged(t *testing.T) {
	t.Parallel()
	secrets := map[string]string{
		"uri query":       `qs-SECRET/"1f3a`,
		"uri userinfo":    "ui-SECRET-2b4c",
		"header":          `hd-SECRET"3c5d`,
		"header.N":        `hn-SECRET\4d6e`,
		"bearer_token":    `br-SECRET\5e7f`,
		"http_passwd":     `pw-SECRET"6f80`,
		"proxy userinfo":  "px-SECRET-7091",
		"typo'd header":   "ty-SECRET-81a2",
		"typo'd proxy":    "tp-SECRET-92b3",
		"typo'd uri":      "tu-SECRET-a3c4",
		"cookie":          "ck-SECRET-b4d5",
		"conflict bearer": "cb-SECRET-c5e6",
		"tab in header":   "tb-SECRET-d6f7",
		"X-Credentials":   `cr-SECRET"e7a8`,
		"X-JWT-Assertion": "jw-SECRET-f8b9",
		"client_secret":   `cs-SECRET"09ca`,
		"secret file":     `cf-SECRET\1adb`,
		"token file":      "tf-SECRET-2bec",
		"password file":   `pf-SECRET"3cfd`,
	}
	forbidden := map[string]string{}
	for what, s := range secrets {
		q := strconv.Quote(s)
		for form, f := range map[string]string{"": s, " %q": q[1 : len(q)-1], " query-escaped": url.QueryEscape(s), " path-escaped": url.PathEscape(s),
			" base64": base64.StdEncoding.EncodeToString([]byte(s)), " base64url": base64.URLEncoding.EncodeToString([]byte(s))} {
			forbidden[what+form] = f
		}
	}
	for what, user := range map[string]string{"uri userinfo": "ingest", "http_passwd": "fluent", "password file": "fluent"} {
		forbidden[what+" as Basic"] = base64.StdEncoding.EncodeToString([]byte(user + ":" + secrets[what]))
	}
	// A client secret's Basic header escapes it first (RFC 6749 2.3.1).
	for _, what := range []string{"client_secret", "secret file"} {
		forbidden[what+" as Basic"] = base64.StdEncoding.EncodeToString([]byte("fluent:" + url.QueryEscape(secrets[what])))
	}
	dir := t.TempDir()
	file := func(what string) string {
		p := filepath.Join(dir, strings.ReplaceAll(what, " ", "-"))
		if err := os.WriteFile(p, []byte(secrets[what]+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// Token endpoints: one that refuses every request quoting it back in
	// its body, one that issues tokens, which a server then quotes back.
	echoTokens := wstest.StartTokenServer(t, wstest.TokenOptions{ClientID: "fluent", ClientSecret: "not-this-one", Echo: true})
	tokens := wstest.StartTokenServer(t, wstest.TokenOptions{ClientID: "fluent", ClientSecret: secrets["client_secret"], Lifetime: time.Hour})

	srv := wstest.StartWSServer(t, wstest.WSOptions{Path: "/ingest"})
	refusing := wstest.StartWSServer(t, wstest.WSOptions{Path: "/ingest", Status: 401})
	// Servers and proxies that quote the request back: in a refusal's
	// body, or in a close frame's reason.
	echo := func(r *http.Request) string {
		return r.RequestURI + " " + r.Header.Get("Authorization") + " " + r.Header.Get("X-Api-Key") + " " +
			base64.StdEncoding.EncodeToString([]byte(r.Header.Get("X-Api-Key"))) + " " + r.Header.Get("X-Credentials") + " " + r.Header.Get("X-JWT-Assertion")
	}
	echoRefusal := wstest.RawServer(t, func(c net.Conn, br *bufio.Reader) {
		r, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		body := "bad request: " + echo(r)
		fmt.Fprintf(c, "HTTP/1.1 400 Bad Request\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", len(body), body)
	})
	echoClose := wstest.StartWSServer(t, wstest.WSOptions{Path: "/ingest", Handle: func(c *wstest.Conn) {
		reason := echo(c.Request)
		c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.ClosePolicyViolation, reason[:min(len(reason), 120)]), time.Now().Add(time.Second))
		c.ReadMessages()
	}})
	closed := closedPort(t)
	hostPort := func(s *wstest.WSServer) string {
		return strings.TrimPrefix(strings.TrimSuffix(s.URL(), "/ingest"), "ws://")
	}

	tests := []struct {
		name  string
		keys  []string
		check func(t *testing.T, r hosttest.HostResult)
	}{
		{"delivered", []string{
			fmt.Sprintf("URI ws://ingest:%s@%s/ingest?access_token=%s&v=2", secrets["uri userinfo"], hostPort(srv), url.QueryEscape(secrets["uri query"])),
			"header X-Api-Key " + secrets["header"],
			"header.3 X-Auth-Token " + secrets["header.N"],
			"header.4 Cookie session=" + secrets["cookie"],
		}, func(t *testing.T, r hosttest.HostResult) {
			r.RequireOK(t)
			if s := r.Summary(t, "websocket_go.0"); s.OK != 1 {
				t.Errorf("not delivered: %+v", s)
			}
			h := srv.Headers()
			if len(h) == 0 || h[0].Get("Authorization") != "Basic "+forbidden["uri userinfo as Basic"] || h[0].Get("X-Api-Key") != secrets["header"] {
				t.Errorf("the credentials were not sent: %v", h)
			}
		}},
		{"server down", []string{
			fmt.Sprintf("URI ws://%s/ingest?token=%s", closed, url.QueryEscape(secrets["uri query"])),
			"http_user fluent",
			"http_passwd " + secrets["http_passwd"],
			fmt.Sprintf("proxy http://squid:%s@%s", secrets["proxy userinfo"], closed),
		}, func(t *testing.T, r hosttest.HostResult) {
			if r.CountLogs("warn", "cannot reach") == 0 {
				t.Errorf("the outage was not logged")
			}
		}},
		{"401", []string{
			fmt.Sprintf("URI ws://%s/ingest?access_token=%s", hostPort(refusing), url.QueryEscape(secrets["uri query"])),
			"bearer_token " + secrets["bearer_token"],
			"header.1 X-Session-Key " + secrets["header.N"],
		}, func(t *testing.T, r hosttest.HostResult) {
			if r.CountLogs("warn", "401") == 0 {
				t.Errorf("the refusal was not logged")
			}
		}},
		{"refusal quotes the request", []string{
			fmt.Sprintf("URI %s/ingest?access_token=%s", strings.TrimSuffix(echoRefusal, "/"), url.QueryEscape(secrets["uri query"])),
			"bearer_token " + secrets["bearer_token"],
			"header X-Api-Key " + secrets["header"],
			"header.1 X-Credentials " + secrets["X-Credentials"],
			"header.2 X-JWT-Assertion " + secrets["X-JWT-Assertion"],
		}, func(t *testing.T, r hosttest.HostResult) {
			if r.CountLogs("warn", "400") == 0 {
				t.Errorf("the refusal was not logged")
			}
		}},
		{"close reason quotes the request", []string{
			fmt.Sprintf("URI ws://%s/ingest?token=%s", hostPort(echoClose), url.QueryEscape(secrets["uri query"])),
			"header X-Api-Key " + secrets["header"],
		}, func(t *testing.T, r hosttest.HostResult) {
			if r.CountLogs("warn", "close 1008") == 0 {
				t.Errorf("the close was not logged")
			}
		}},
		{"token endpoint quotes the request", []string{
			"URI " + srv.URL(),
			"oauth2.enable on",
			"oauth2.token_url " + echoTokens.URL(),
			"oauth2.client_id fluent",
			"oauth2.client_secret " + secrets["client_secret"],
		}, func(t *testing.T, r hosttest.HostResult) {
			if r.CountLogs("warn", "no OAuth2 token from "+echoTokens.URL()+": HTTP 401 Unauthorized (invalid_client)") == 0 {
				t.Errorf("the refusal was not logged")
			}
		}},
		{"token endpoint quotes the posted secret file", []string{
			"URI " + srv.URL(),
			"oauth2.enable on",
			"oauth2.token_url " + echoTokens.URL(),
			"oauth2.client_id fluent",
			"oauth2.auth_method post",
			"client_secret_file " + file("secret file"),
		}, func(t *testing.T, r hosttest.HostResult) {
			if r.CountLogs("warn", "no OAuth2 token from") == 0 {
				t.Errorf("the refusal was not logged")
			}
		}},
		{"close reason quotes the token", []string{
			fmt.Sprintf("URI ws://%s/ingest", hostPort(echoClose)),
			"oauth2.enable on",
			"oauth2.token_url " + tokens.URL(),
			"oauth2.client_id fluent",
			"oauth2.client_secret " + secrets["client_secret"],
		}, func(t *testing.T, r hosttest.HostResult) {
			if r.CountLogs("warn", "close 1008") == 0 || tokens.Issued() == 0 {
				t.Errorf("the close was not logged, or no token issued")
			}
		}},
		{"refusal quotes the token file", []string{
			fmt.Sprintf("URI %s/ingest", strings.TrimSuffix(echoRefusal, "/")),
			"bearer_token_file " + file("token file"),
		}, func(t *testing.T, r hosttest.HostResult) {
			if r.CountLogs("warn", "400") == 0 {
				t.Errorf("the refusal was not logged")
			}
		}},
		{"refusal quotes the password file", []string{
			fmt.Sprintf("URI %s/ingest", strings.TrimSuffix(echoRefusal, "/")),
			"http_user fluent",
			"http_passwd_file " + file("password file"),
		}, func(t *testing.T, r hosttest.HostResult) {
			if r.CountLogs("warn", "400") == 0 {
				t.Errorf("the refusal was not logged")
			}
		}},
		{"bad config", []string{
			fmt.Sprintf("URI ws://ingest:%s@%s:99999/ingest?token=%s", secrets["typo'd uri"], "127.0.0.1", url.QueryEscape(secrets["uri query"])),
			"header.2 Authorization:Bearer" + secrets["typo'd header"],
			fmt.Sprintf("proxy htp://squid:%s@proxy:3128", secrets["typo'd proxy"]),
			"http_user fluent",
			"bearer_token " + secrets["conflict bearer"],
			"header.5 X-Token\t" + secrets["tab in header"] + " more",
		}, func(t *testing.T, r hosttest.HostResult) {
			if r.ExitCode != 255 {
				t.Errorf("exit %d, want 255", r.ExitCode)
			}
			for _, key := range []string{"'uri'", "'header.2'", "'proxy'", "'bearer_token'", "'header.5'"} {
				if r.CountLogs("error", key) == 0 {
					t.Errorf("no error line names %s", key)
				}
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conf := hosttest.WriteConfig(t, "fluent-bit.conf", "[OUTPUT]\n    Name        websocket_go\n    Match       *\n    Retry_Limit 2\n    Format      json\n    connect_timeout 2\n    "+strings.Join(tt.keys, "\n    ")+"\n")
			r := hosttest.RunHost(t, faultArgs(t, conf, "--log-level", "debug", "-i", reference.Chunk())...)
			tt.check(t, r)
			out := r.Stdout + r.Stderr
			for what, s := range forbidden {
				if strings.Contains(out, s) {
					t.Errorf("the %s secret %q is in the output", what, s)
				}
			}
			for _, tok := range tokens.Tokens() {
				for _, f := range []string{tok, base64.StdEncoding.EncodeToString([]byte(tok)), base64.RawURLEncoding.EncodeToString([]byte(tok))} {
					if strings.Contains(out, f) {
						t.Errorf("an issued token %q is in the output", f)
					}
				}
			}
			if r.CountLogs("debug", "") == 0 && tt.name != "bad config" {
				t.Errorf("no debug line: the run did not log at debug level")
			}
			if t.Failed() {
				t.Log(r.Dump())
			}
		})
	}
}

// closedPort is a loopback host:port where nothing listens.
func closedPort(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}
