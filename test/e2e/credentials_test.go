package e2e

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/out-websocket/out_websocket/internal/hosttest"
	"github.com/out-websocket/out_websocket/internal/reference"
	"github.com/out-websocket/out_websocket/internal/wstest"
)

// OAuth2 tokens that live 2 s, a server that takes only a current token
// and cuts a connection when its token expires, and 60 s of steady
// records (a chunk every 100 ms, two workers): every record arrives, no
// flush fails, across 20 and more rotations. The oauth2.* keys are in the
// [OUTPUT] as a user writes them; the host plays Fluent Bit 5.1, whose
// core keeps them from the plugin.
func TestOAuth2TokenRotation(t *testing.T) {
	t.Parallel()
	const chunks, perChunk, every = 600, 10, 100 // 60 s
	ts := wstest.StartTokenServer(t, wstest.TokenOptions{ClientID: "fluent-bit", ClientSecret: "rotation-secret", Lifetime: 2 * time.Second})
	srv := wstest.StartWSServer(t, ts.Protect(wstest.WSOptions{Path: "/ingest"}))
	conf := hosttest.WriteConfig(t, "fluent-bit.conf", faultOutput(srv.URL(), "msgpack", "*", 2,
		"oauth2.enable on", "oauth2.token_url "+ts.URL(), "oauth2.client_id fluent-bit", "oauth2.client_secret rotation-secret",
		"oauth2.refresh_skew_seconds 1"))
	in := hosttest.WriteChunks(t, "chunks.bin", seqChunks(0, chunks*perChunk, perChunk, seqSpec{LogLen: 40})...)
	r := hosttest.RunHostWith(t, hosttest.HostOptions{Timeout: 5 * time.Minute},
		faultArgs(t, conf, "--chunk-interval", fmt.Sprint(every), "-I", in)...)
	tokens := map[string]bool{}
	for _, h := range srv.Headers() {
		tokens[h.Get("Authorization")] = true
	}
	requireDelivered(t, r, "websocket_go.0", chunks, srv, "msgpack", 0, chunks*perChunk)
	if s := r.Summary(t, "websocket_go.0"); s.Retried != 0 {
		t.Errorf("%d flushes failed (RETRY), want none", s.Retried)
	}
	if len(tokens) < 20 {
		t.Errorf("%d tokens used over %d handshakes, want 20 or more rotations", len(tokens), srv.Handshakes())
	}
	node := strings.TrimPrefix(strings.TrimSuffix(srv.URL(), "/ingest"), "ws://")
	fetched := r.Metric(t, "websocket_go.0", "fluentbit_websocket_token_fetches_total", "node", node).Value
	if failed := r.Metric(t, "websocket_go.0", "fluentbit_websocket_token_fetch_failures_total", "node", node).Value; int(fetched) != ts.Issued() || failed != 0 {
		t.Errorf("metrics: %v tokens fetched, %v failures; the endpoint issued %d", fetched, failed, ts.Issued())
	}
	if n := r.CountLogs("error", ""); n != 0 {
		t.Errorf("%d error lines", n)
	}
	t.Logf("%d tokens issued, %d used in %d handshakes; %v renewals; %d warnings", ts.Issued(), len(tokens), srv.Handshakes(),
		r.Metric(t, "websocket_go.0", "fluentbit_websocket_connections_lost_total", "node", node, "cause", "token_renewal").Value, r.CountLogs("warn", ""))
}

// A token file replaced under the running plugin (as a Kubernetes
// projected token or a Vault agent sink is) is used at the next handshake,
// and no flush fails for it.
func TestBearerTokenFileReplaced(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte("tk-first-0001\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	accepted := map[string]bool{"Bearer tk-first-0001": true}
	rotated := make(chan struct{})
	srv := wstest.StartWSServer(t, wstest.WSOptions{Path: "/ingest", Authorize: func(r *http.Request) int {
		mu.Lock()
		defer mu.Unlock()
		if !accepted[r.Header.Get("Authorization")] {
			return http.StatusUnauthorized
		}
		return 0
	}, Handle: func(c *wstest.Conn) {
		// Once the token rotated, a server cuts what the old one opened.
		done := make(chan struct{})
		defer close(done)
		go func() {
			select {
			case <-rotated:
				if c.Request.Header.Get("Authorization") == "Bearer tk-first-0001" {
					c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.ClosePolicyViolation, "token revoked"), time.Now().Add(time.Second))
				}
			case <-done:
			}
		}()
		c.ReadMessages()
	}})
	const chunks, perChunk = 60, 5
	conf := hosttest.WriteConfig(t, "fluent-bit.conf", faultOutput(srv.URL(), "json", "*", 1, "bearer_token_file "+tokenFile))
	in := hosttest.WriteChunks(t, "chunks.bin", seqChunks(0, chunks*perChunk, perChunk, seqSpec{})...)
	h := hosttest.StartHost(t, hosttest.HostOptions{Timeout: 2 * time.Minute}, faultArgs(t, conf, "--chunk-interval", "50", "-I", in)...)
	srv.WaitMessages(10, wstest.Timeout)

	// The new token is valid from before the file changes, the old one
	// not after the server has closed its connections.
	mu.Lock()
	accepted["Bearer tk-second-0002"] = true
	mu.Unlock()
	if err := os.WriteFile(tokenFile+".new", []byte("tk-second-0002\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tokenFile+".new", tokenFile); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	delete(accepted, "Bearer tk-first-0001")
	mu.Unlock()
	before := srv.Handshakes()
	close(rotated)
	r := h.Wait()
	requireDelivered(t, r, "websocket_go.0", chunks, srv, "json", 0, chunks*perChunk)
	heads := srv.Headers()
	if len(heads) <= before {
		t.Fatalf("no handshake after the file changed")
	}
	for i, hd := range heads {
		want := "Bearer tk-first-0001"
		if i >= before {
			want = "Bearer tk-second-0002"
		}
		if got := hd.Get("Authorization"); got != want {
			t.Errorf("handshake %d sent %q, want %q", i+1, got, want)
		}
	}
	if s := r.Summary(t, "websocket_go.0"); s.Retried != 0 {
		t.Errorf("%d flushes failed (RETRY), want none", s.Retried)
	}
}

// The oauth2.* keys work as a user writes them in every release: a
// classic [OUTPUT], -o/-p, YAML; before 5.0 the plugin sees them, from 5.0
// it reads them from the section as written. An oauth2.* key Fluent Bit 5
// does not know (oauth2.client_secret_file) stops Fluent Bit at start in
// every release, naming the key: the file's key is client_secret_file.
func TestOAuth2KeysAsWritten(t *testing.T) {
	t.Parallel()
	ts := wstest.StartTokenServer(t, wstest.TokenOptions{ClientID: "fluent-bit", ClientSecret: "written-secret", Lifetime: time.Hour})
	srv := wstest.StartWSServer(t, ts.Protect(wstest.WSOptions{Path: "/ingest"}))
	secretFile := hosttest.WriteConfig(t, "client-secret", "written-secret\n")
	keys := []string{"oauth2.enable on", "oauth2.token_url " + ts.URL(), "oauth2.client_id fluent-bit"}
	var confs int
	classic := func(extra ...string) []string {
		confs++
		return []string{"-c", hosttest.WriteConfig(t, fmt.Sprintf("fluent-bit-%d.conf", confs), faultOutput(srv.URL(), "json", "*", 0, append(keys, extra...)...))}
	}
	yaml := hosttest.WriteConfig(t, "fluent-bit.yaml", fmt.Sprintf(`pipeline:
  outputs:
    - name: websocket_go
      match: '*'
      alias: ws
      uri: %s
      format: json
      oauth2.enable: on
      oauth2.token_url: %s
      oauth2.client_id: fluent-bit
      oauth2.client_secret: ${WRITTEN_SECRET}
`, srv.URL(), ts.URL()))
	cli := []string{"-o", "websocket_go", "-p", "uri=" + srv.URL(), "-p", "format=json", "-p", "oauth2.enable=on",
		"-p", "oauth2.token_url=" + ts.URL(), "-p", "oauth2.client_id=fluent-bit", "-p", "client_secret_file=" + secretFile}
	tests := []struct {
		name     string
		version  string
		args     []string
		instance string
		refused  string // the error line that stops Fluent Bit, if any
	}{
		{"classic 4.0", "4.0", classic("oauth2.client_secret written-secret"), "websocket_go.0", ""},
		{"classic 5.1", "5.1", classic("oauth2.client_secret written-secret"), "websocket_go.0", ""},
		{"client_secret_file 5.1", "5.1", classic("client_secret_file " + secretFile), "websocket_go.0", ""},
		{"-o -p 5.1", "5.1", cli, "websocket_go.0", ""},
		{"YAML 5.1", "5.1", []string{"-c", yaml}, "ws", ""},
		{"oauth2.client_secret_file 5.1", "5.1", classic("oauth2.client_secret_file " + secretFile), "",
			"[config] websocket_go: unknown configuration property 'oauth2.client_secret_file'"},
		{"oauth2.client_secret_file 4.0", "4.0", classic("oauth2.client_secret_file " + secretFile), "",
			"unknown key 'oauth2.client_secret_file': the OAuth2 client secret's file is key 'client_secret_file'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(ts.Requests())
			args := append([]string{"-e", hosttest.PluginSO(t), "--flb-version", tt.version, "-i", reference.Chunk()}, tt.args...)
			r := hosttest.RunHostWith(t, hosttest.HostOptions{Env: []string{"WRITTEN_SECRET=written-secret"}}, args...)
			if tt.refused != "" {
				if r.ExitCode != 255 || r.CountLogs("error", tt.refused) == 0 {
					t.Errorf("exit %d, want 255 with %q\n%s", r.ExitCode, tt.refused, r.Dump())
				}
				return
			}
			r.RequireOK(t)
			if s := r.Summary(t, tt.instance); s.OK != 1 || s.Retried != 0 {
				t.Errorf("summary %+v, want the chunk sent at once\n%s", s, r.Dump())
			}
			if n := len(ts.Requests()) - before; n != 1 {
				t.Errorf("%d token requests, want 1", n)
			}
		})
	}
}
