package e2e

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/out-websocket/out_websocket/internal/chunktest"
	"github.com/out-websocket/out_websocket/internal/hosttest"
	"github.com/out-websocket/out_websocket/internal/wstest"
)

// confEndpoint is a server that a conf/ example sends to, at the fixed
// address the example names.
type confEndpoint struct {
	addr, path string
	binary     bool
	header     [2]string // a request header the example sets
	oauth2     bool      // it takes only a token of the example's token endpoint
}

// upstreamEndpoints are the nodes of conf/upstream-nodes.conf and .yaml.
var upstreamEndpoints = []confEndpoint{
	{addr: "127.0.0.1:8700", path: "/ingest", header: [2]string{"X-Source", "fluent-bit"}},
	{addr: "127.0.0.1:8701", path: "/ingest", header: [2]string{"X-Receiver", "b"}},
	{addr: "127.0.0.1:8702", path: "/ingest"},
}

// Every file in conf/ runs in the test host unchanged and delivers where it
// says; this is the one test that runs them. A new example needs a case
// here.
func TestConfExamples(t *testing.T) {
	ca := wstest.NewTestCA(t)
	tests := map[string]struct {
		endpoints []confEndpoint
		plugin    bool     // -e on the command line (else the example's plugins_file)
		env       []string // values for the example's ${VAR}s
		tls       bool
		repeat    int  // sends of the chunk, when more than one
		tokens    bool // a token endpoint at OAUTH2_TOKEN_URL, its client secret in OAUTH2_CLIENT_SECRET_FILE
	}{
		"fluent-bit.conf": {endpoints: []confEndpoint{{addr: "127.0.0.1:8700", path: "/something"}}, plugin: true},
		"fluent-bit.yaml": {endpoints: []confEndpoint{{addr: "127.0.0.1:8700", path: "/something"}}, plugin: true},
		"multi-output.conf": {endpoints: []confEndpoint{
			{addr: "127.0.0.1:8701", path: "/archive", binary: true},
			{addr: "127.0.0.1:8702", path: "/live", header: [2]string{"X-Cluster", "demo"}},
		}},
		"tls.conf": {
			endpoints: []confEndpoint{{addr: "127.0.0.1:8743", path: "/ingest", header: [2]string{"Authorization", "Bearer s3cret"}}},
			plugin:    true, tls: true, env: []string{"WS_CA_FILE=" + ca.File, "WS_TOKEN=s3cret"},
		},
		// Three chunks, round-robin: one to each node.
		"upstream.conf": {endpoints: upstreamEndpoints, plugin: true, repeat: 3},
		"upstream.yaml": {endpoints: upstreamEndpoints, plugin: true, repeat: 3},
		"rotating-credentials.conf": {
			endpoints: []confEndpoint{{addr: "127.0.0.1:8744", path: "/ingest", oauth2: true},
				{addr: "127.0.0.1:8745", path: "/ingest", header: [2]string{"Authorization", "Bearer tk-from-file"}}},
			plugin: true, tokens: true, env: []string{"WS_TOKEN_FILE=" + hosttest.WriteFile(t, "ws-token", []byte("tk-from-file\n"))},
		},
	}
	// Files that are not pipelines, and the example that uses each.
	support := map[string]string{
		"plugins.conf":        "multi-output.conf",
		"upstream-nodes.conf": "upstream.conf",
		"upstream-nodes.yaml": "upstream.yaml",
	}

	files, err := filepath.Glob(filepath.Join(hosttest.RepoRoot, "conf", "*"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no conf/ files: %v", err)
	}
	chunk := hosttest.WriteFile(t, "sample.msgpack", chunktest.SampleChunk(10, 1))
	for _, file := range files {
		name := filepath.Base(file)
		if user, ok := support[name]; ok {
			example, err := os.ReadFile(filepath.Join(hosttest.RepoRoot, "conf", user))
			if err != nil || !bytes.Contains(example, []byte(" "+name+"\n")) {
				t.Errorf("%s is not used by %s", name, user)
			}
			continue
		}
		tt, ok := tests[name]
		if !ok {
			t.Errorf("conf/%s has no case in TestConfExamples", name)
			continue
		}
		t.Run(name, func(t *testing.T) {
			env := tt.env
			var tokens *wstest.TokenServer
			if tt.tokens {
				tokens = wstest.StartTokenServer(t, wstest.TokenOptions{ClientID: "fluent-bit", ClientSecret: "example-secret", Lifetime: time.Hour})
				env = append(env[:len(env):len(env)], "OAUTH2_TOKEN_URL="+tokens.URL(),
					"OAUTH2_CLIENT_SECRET_FILE="+hosttest.WriteFile(t, "client-secret", []byte("example-secret\n")))
			}
			var servers []*wstest.WSServer
			for _, ep := range tt.endpoints {
				opts := wstest.WSOptions{Addr: ep.addr, Path: ep.path}
				if tt.tls {
					opts.TLS = ca.ServerTLS(t, "localhost", "127.0.0.1")
				}
				if ep.oauth2 {
					opts = tokens.Protect(opts)
				}
				servers = append(servers, wstest.StartWSServer(t, opts))
			}
			args := []string{"-c", file, "-i", chunk}
			if tt.repeat > 1 {
				args = append(args, "-n", strconv.Itoa(tt.repeat))
			}
			if tt.plugin {
				args = append(args, "-e", hosttest.PluginSO(t))
			} else {
				hosttest.PluginSO(t) // the example's plugins file names ./out_websocket.so
			}
			r := hosttest.RunHostWith(t, hosttest.HostOptions{Dir: hosttest.RepoRoot, Env: env}, args...)
			r.RequireOK(t)
			for _, s := range r.SummaryList {
				if s.Name != "websocket_go" || s.OK == 0 || s.OK != s.Chunks || s.Flushes != s.Chunks || s.Retried != 0 || s.Dropped != 0 {
					t.Errorf("instance %s: %+v\n%s", s.Instance, s, r.Dump())
				}
			}
			for i, ep := range tt.endpoints {
				msgs := servers[i].WaitMessages(1, 5*time.Second)
				if msgs[0].Binary != ep.binary {
					t.Errorf("%s: binary %v, want %v", ep.path, msgs[0].Binary, ep.binary)
				}
				if ep.header[0] != "" {
					if got := servers[i].Headers()[0].Get(ep.header[0]); got != ep.header[1] {
						t.Errorf("%s: header %s is %q, want %q", ep.path, ep.header[0], got, ep.header[1])
					}
				}
			}
		})
	}
}
