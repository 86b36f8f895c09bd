package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// writeTestFile writes a file into dir and returns its path.
func writeTestFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

const classicUpstream = `# receivers
[UPSTREAM]
    name  fleet

[NODE]
    Name  a
    Host  127.0.0.1
    Port  8700
    URI   /logs
    header.1 X-Node a

[NODE]
    name  b
    host  example.test
    port  443
    ws_tls on
    bearer_token ${UPSTREAM_TEST_TOKEN}

[OTHER]
    ignored yes
`

const yamlUpstream = `upstream_servers:
  - name: fleet
    nodes:
      - name: a
        host: 127.0.0.1
        port: 8700
        uri: /logs
        header.1: X-Node a
      - name: b
        host: example.test
        port: 443
        ws_tls: on
        bearer_token: ${UPSTREAM_TEST_TOKEN}
`

// Both of Fluent Bit's formats read to the same upstream: its name, the
// nodes in file order, keys lower-cased, ${VAR} from the environment.
func TestReadUpstreamFile(t *testing.T) {
	t.Setenv("UPSTREAM_TEST_TOKEN", "t0k$n")
	dir := t.TempDir()
	for _, f := range []struct{ name, content string }{{"up.conf", classicUpstream}, {"up.yaml", yamlUpstream}, {"up.yml", yamlUpstream}} {
		t.Run(f.name, func(t *testing.T) {
			up, err := readUpstreamFile(writeTestFile(t, dir, f.name, f.content))
			if err != nil {
				t.Fatal(err)
			}
			if up.Name != "fleet" || len(up.Nodes) != 2 {
				t.Fatalf("upstream %+v", up)
			}
			a, b := up.Nodes[0], up.Nodes[1]
			if a.Name != "a" || a.Get("Host") != "127.0.0.1" || a.Get("port") != "8700" || a.Get("uri") != "/logs" || a.Get("header.1") != "X-Node a" {
				t.Errorf("node a %+v", a)
			}
			if b.Name != "b" || b.Get("ws_tls") != "on" || b.Get("bearer_token") != "t0k$n" {
				t.Errorf("node b %+v", b)
			}
		})
	}
}

// A YAML file keeps each scalar's text as written, as Fluent Bit (libyaml)
// does: the same text a classic file with the same values gives, never a
// number, bool, date or null printed back.
func TestUpstreamYAMLScalarsAsWritten(t *testing.T) {
	tests := []struct{ yaml, classic, want string }{
		{"0123", "0123", "0123"},
		{"1_000", "1_000", "1_000"},
		{"2001-12-14", "2001-12-14", "2001-12-14"},
		{"yes", "yes", "yes"},
		{"~", "~", "~"},
		{"null", "null", "null"},
		{"1e3", "1e3", "1e3"},
		{"0x1F", "0x1F", "0x1F"},
		{"1.50", "1.50", "1.50"},
		{".inf", ".inf", ".inf"},
		{"'0123'", "0123", "0123"},
		{`"1_000"`, "1_000", "1_000"},
		{`"yes"`, "yes", "yes"},
		{"p@ss:w0rd", "p@ss:w0rd", "p@ss:w0rd"},
	}
	dir := t.TempDir()
	for i, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			yml := writeTestFile(t, dir, fmt.Sprintf("u%d.yaml", i), fmt.Sprintf(
				"upstream_servers:\n  - name: %[1]s\n    nodes:\n      - name: %[1]s\n        host: h\n        port: 0100\n        http_passwd: %[1]s\n", tt.yaml))
			classic := writeTestFile(t, dir, fmt.Sprintf("u%d.conf", i), fmt.Sprintf(
				"[UPSTREAM]\n    name %[1]s\n[NODE]\n    name %[1]s\n    host h\n    port 0100\n    http_passwd %[1]s\n", tt.classic))
			for _, path := range []string{yml, classic} {
				up, err := readUpstreamFile(path)
				if err != nil {
					t.Fatal(err)
				}
				n := up.Nodes[0]
				if up.Name != tt.want || n.Name != tt.want || n.Get("http_passwd") != tt.want || n.Get("port") != "0100" {
					t.Errorf("%s: upstream %q, node %q, http_passwd %q, port %q; want %q and port 0100",
						filepath.Base(path), up.Name, n.Name, n.Get("http_passwd"), n.Get("port"), tt.want)
				}
			}
		})
	}
}

// A file Fluent Bit would refuse, or that could never work, is an error
// naming the file and what is wrong.
func TestReadUpstreamFileErrors(t *testing.T) {
	node := "\n[NODE]\n    name a\n    host h\n    port 1\n"
	tests := []struct {
		name, file, content, want string
	}{
		{"no upstream section", "u.conf", node, "section name 'upstream' could not be found"},
		{"no upstream name", "u.conf", "[UPSTREAM]\n    x y\n" + node, "has no 'name'"},
		{"no nodes", "u.conf", "[UPSTREAM]\n    name u\n", "no nodes defined"},
		{"no port", "u.conf", "[UPSTREAM]\n    name u\n[NODE]\n    name a\n    host h\n", "no 'port' has been set on node #1"},
		{"no host", "u.conf", "[UPSTREAM]\n    name u\n[NODE]\n    name a\n    port 1\n", "no 'host'"},
		{"same name twice", "u.conf", "[UPSTREAM]\n    name u\n" + node + node, "names must differ"},
		{"key twice", "u.conf", "[UPSTREAM]\n    name u\n" + node + "    port 2\n", "'port' is set twice"},
		{"unindented key", "u.conf", "[UPSTREAM]\nname u\n" + node, "invalid indentation"},
		{"empty value", "u.conf", "[UPSTREAM]\n    name\n" + node, "empty value"},
		{"include", "u.conf", "@INCLUDE other.conf\n[UPSTREAM]\n    name u\n" + node, "@INCLUDE is not supported"},
		{"two upstreams", "u.conf", "[UPSTREAM]\n    name u\n[UPSTREAM]\n    name v\n" + node, "one upstream per file"},
		{"name with a space", "u.yaml", "upstream_servers:\n  - name: u\n    nodes:\n      - {name: 'a b', host: h, port: 1}\n", "no spaces"},
		{"yaml two servers", "u.yaml", "upstream_servers:\n  - name: u\n  - name: v\n", "one upstream per file"},
		{"yaml nested value", "u.yaml", "upstream_servers:\n  - name: u\n    nodes:\n      - {name: a, host: h, port: 1, uri: [x]}\n", "not a single value"},
		{"yaml empty value", "u.yaml", "upstream_servers:\n  - name: u\n    nodes:\n      - {name: a, host: h, port: 1, uri: }\n", "'uri' has an empty value"},
		{"yaml node not a map", "u.yaml", "upstream_servers:\n  - name: u\n    nodes:\n      - a\n", "a node is a map"},
		{"yaml syntax", "u.yaml", "upstream_servers: [\n", "u.yaml"},
		{"yaml value of the wrong kind, unquoted", "u.yaml", "upstream_servers:\n  - name: u\n    nodes: SECRET\n", "cannot unmarshal"},
		{"missing file", "", "", "key 'upstream'"},
	}
	dir := t.TempDir()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, "missing.conf")
			if tt.file != "" {
				path = writeTestFile(t, dir, tt.file, tt.content)
			}
			_, err := readUpstreamFile(path)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), filepath.Base(path)) || strings.Contains(err.Error(), "SECRET") {
				t.Fatalf("error %v, want one naming %s and saying %q, without a secret", err, filepath.Base(path), tt.want)
			}
		})
	}
}

// Fluent Bit opens the file as written when it exists, else a relative
// one in the main config file's directory (flb_upstream_ha_from_file).
func TestResolveUpstreamPath(t *testing.T) {
	conf := t.TempDir()
	writeTestFile(t, conf, "nodes.conf", classicUpstream)
	cwd := t.TempDir()
	t.Chdir(cwd)
	writeTestFile(t, cwd, "here.conf", classicUpstream)
	tests := []struct{ file, confDir, want string }{
		{"nodes.conf", conf, filepath.Join(conf, "nodes.conf")},
		{"here.conf", conf, "here.conf"},
		{"nodes.conf", "", "nodes.conf"},
		{"/abs/nodes.conf", conf, "/abs/nodes.conf"},
	}
	for _, tt := range tests {
		if got := resolveUpstreamPath(tt.file, tt.confDir); got != tt.want {
			t.Errorf("resolveUpstreamPath(%q, %q) = %q, want %q", tt.file, tt.confDir, got, tt.want)
		}
	}
}

// expandEnv replaces ${VAR} only, as Fluent Bit does.
func TestExpandEnv(t *testing.T) {
	t.Setenv("UPSTREAM_TEST_A", "x")
	for in, want := range map[string]string{
		"${UPSTREAM_TEST_A}/y": "x/y", "$UPSTREAM_TEST_A": "$UPSTREAM_TEST_A", "a${UPSTREAM_TEST_UNSET}b": "ab",
		"p$ss": "p$ss", "${open": "${open", "": "",
	} {
		if got := expandEnv(in); got != want {
			t.Errorf("expandEnv(%q) = %q, want %q", in, got, want)
		}
	}
}

// An [OUTPUT] with `upstream`: each node's endpoint from its own keys and
// the [OUTPUT]'s where it has none; the rest shared; mistakes named with
// the node.
func TestLoadConfigUpstream(t *testing.T) {
	dir := t.TempDir()
	writeTestFile(t, dir, "nodes.conf", `[UPSTREAM]
    name fleet
[NODE]
    name a
    host 127.0.0.1
    port 8700
    uri /a
    header.1 X-Node a
[NODE]
    name b
    host b.test
    port 9443
    uri wss://b.test:9443/b
    http_user node
    http_passwd node-secret
[NODE]
    name c
    host c.test
    port 80
    uri ws://u:node-secret@c.test/c
`)
	cfg, err := loadConfig(mapSource{"upstream": "nodes.conf", "bearer_token": "output-secret", "format": "json", "write_timeout": "3"}, coreEndpoint{}, dir)
	if err != nil {
		t.Fatal(err)
	}
	nodes := cfg.nodes()
	if cfg.Upstream == nil || cfg.Upstream.Name != "fleet" || len(nodes) != 3 || cfg.Endpoint != nil {
		t.Fatalf("config %+v", cfg)
	}
	a, b := nodes[0], nodes[1]
	if a.Conn.URL != "ws://127.0.0.1:8700/a" || a.Conn.LogURL != "ws://127.0.0.1:8700/a (node a)" || a.Conn.TLS != nil ||
		a.Conn.Header.Get("X-Node") != "a" || a.Conn.Header.Get("Authorization") != "Bearer output-secret" || a.label() != "a" {
		t.Errorf("node a %+v", a.Conn)
	}
	if b.Conn.URL != "wss://b.test:9443/b" || b.Conn.TLS == nil || b.Conn.TLS.ServerName != "b.test" ||
		b.Conn.Header.Get("Authorization") != "Basic bm9kZTpub2RlLXNlY3JldA==" || b.Conn.Header.Get("X-Node") != "" {
		t.Errorf("node b %+v", b.Conn)
	}
	// A node's own credentials replace the [OUTPUT]'s, whatever their form.
	if c := nodes[2].Conn; c.URL != "ws://c.test/c" || c.Header.Get("Authorization") != "Basic dTpub2RlLXNlY3JldA==" {
		t.Errorf("node c %+v", c)
	}
	for _, n := range nodes {
		if n.Conn.WriteTimeout != 3e9 || !n.Conn.ConfirmDelivery {
			t.Errorf("node %s does not share the [OUTPUT]'s settings: %+v", n.Name, n.Conn)
		}
	}
	if s := cfg.String(); !strings.Contains(s, "upstream fleet (") || !strings.Contains(s, "(node b)") || strings.Contains(s, "secret") {
		t.Errorf("startup line %q", s)
	}

	single, err := loadConfig(mapSource{"uri": "ws://h:81/x"}, coreEndpoint{}, "")
	if err != nil || len(single.nodes()) != 1 || single.nodes()[0].label() != "h:81" {
		t.Errorf("without upstream: %+v, %v", single, err)
	}
}

// The [OUTPUT]'s endpoint keys are every node's defaults, a node's own
// key overrides, as Fluent Bit users write out_forward or out_es with an
// Upstream file; Host and Port beside it name no node and are ignored, with
// a warning.
func TestUpstreamOutputDefaults(t *testing.T) {
	dir := t.TempDir()
	file := writeTestFile(t, dir, "u.conf", `[UPSTREAM]
    name u
[NODE]
    name a
    host a.test
    port 8700
[NODE]
    name b
    host b.test
    port 8701
    uri /own?v=1
    header.1 X-Tenant b
    ws_tls off
`)
	tests := []struct {
		name   string
		src    mapSource
		core   coreEndpoint
		a, b   string
		warned bool
	}{
		{"uri in the output", mapSource{"uri": "/path"}, coreEndpoint{}, "ws://a.test:8700/path", "ws://b.test:8701/own?v=1", false},
		{"no uri anywhere", mapSource{}, coreEndpoint{}, "ws://a.test:8700/", "ws://b.test:8701/own?v=1", false},
		{"ws_tls in the output", mapSource{"uri": "/path", "ws_tls": "on"}, coreEndpoint{}, "wss://a.test:8700/path", "ws://b.test:8701/own?v=1", false},
		{"Host and Port beside", mapSource{"uri": "/path"}, coreEndpoint{Host: "example.com", Port: 9}, "ws://a.test:8700/path", "ws://b.test:8701/own?v=1", true},
		{"-o form with a path", mapSource{}, coreEndpoint{Host: "example.com", Port: 9, Path: "/o"}, "ws://a.test:8700/o", "ws://b.test:8701/own?v=1", true},
		{"-o path and the same uri", mapSource{"uri": "/o"}, coreEndpoint{Host: "h", Path: "/o"}, "ws://a.test:8700/o", "ws://b.test:8701/own?v=1", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.src["upstream"] = file
			tt.src["header.1"] = "X-Tenant output"
			cfg, err := loadConfig(tt.src, tt.core, "")
			if err != nil {
				t.Fatal(err)
			}
			a, b := cfg.nodes()[0].Conn, cfg.nodes()[1].Conn
			if a.URL != tt.a || b.URL != tt.b {
				t.Errorf("nodes %s and %s, want %s and %s", a.URL, b.URL, tt.a, tt.b)
			}
			if a.Header.Get("X-Tenant") != "output" || b.Header.Get("X-Tenant") != "b" {
				t.Errorf("X-Tenant %q and %q, want the output's and b's own", a.Header.Get("X-Tenant"), b.Header.Get("X-Tenant"))
			}
			warned := slices.ContainsFunc(cfg.Warnings, func(w string) bool { return strings.Contains(w, "Host and Port") && strings.Contains(w, "ignored") })
			if warned != tt.warned {
				t.Errorf("warnings %q, want one that Host and Port are ignored: %v", cfg.Warnings, tt.warned)
			}
		})
	}
}

func TestLoadConfigUpstreamErrors(t *testing.T) {
	dir := t.TempDir()
	node := func(extra string) string {
		return "[UPSTREAM]\n    name u\n[NODE]\n    name n1\n    host 127.0.0.1\n    port 8700\n" + extra
	}
	tests := []struct {
		name    string
		file    string
		src     mapSource
		core    coreEndpoint
		want    []string
		noWords []string
	}{
		{"full url in the output", node(""), mapSource{"uri": "ws://h:1/x?token=SECRET"}, coreEndpoint{}, []string{"key 'uri'", "a path such as /logs"}, []string{"SECRET"}},
		{"-o path and uri differ", node(""), mapSource{"uri": "/x"}, coreEndpoint{Host: "h", Port: 1, Path: "/p"}, []string{"the path of -o", "conflict"}, nil},
		{"port out of range", node(""), mapSource{}, coreEndpoint{Host: "h", Port: 99999}, []string{"key 'port'", "1 to 65535"}, nil},
		{"tls key", node("    tls on\n"), mapSource{}, coreEndpoint{}, []string{"node 'n1'", "'tls'", "'ws_tls'"}, nil},
		{"tls.ca_file key", node("    tls.ca_file /x\n"), mapSource{}, coreEndpoint{}, []string{"'ws_tls.ca_file'"}, nil},
		{"output-wide key", node("    format json\n"), mapSource{}, coreEndpoint{}, []string{"node 'n1'", "'format' cannot be set per node", "[OUTPUT]"}, nil},
		{"bad port", "[UPSTREAM]\n    name u\n[NODE]\n    name n1\n    host h\n    port http\n", mapSource{}, coreEndpoint{}, []string{"node 'n1'", "'port'", "1 to 65535"}, nil},
		{"url names another host", node("    uri ws://other:8700/x\n"), mapSource{}, coreEndpoint{}, []string{"node 'n1'", "keys 'host' and 'uri' conflict"}, nil},
		{"bad node value, secret kept out", node("    header.1 Authorization:SECRET\n"), mapSource{}, coreEndpoint{}, []string{"node 'n1'", "'header.1'"}, []string{"SECRET"}},
		{"ws_tls keys without tls", node("    ws_tls.verify off\n"), mapSource{}, coreEndpoint{}, []string{"node 'n1'", "not wss://"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			writeTestFile(t, dir, "u.conf", tt.file)
			tt.src["upstream"] = filepath.Join(dir, "u.conf")
			_, err := loadConfig(tt.src, tt.core, "")
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			for _, w := range tt.noWords {
				if strings.Contains(err.Error(), w) {
					t.Errorf("error %q contains %q", err, w)
				}
			}
		})
	}
}

// A node's oauth2.* and *_file keys override the [OUTPUT]'s one by one; a
// node with fixed credentials of its own takes none of the [OUTPUT]'s
// oauth2.* keys, and one with oauth2.* keys none of its fixed ones.
func TestUpstreamNodeCredentials(t *testing.T) {
	dir := t.TempDir()
	tokenFile := writeTestFile(t, t.TempDir(), "token", "tk-node-c\n")
	file := writeTestFile(t, dir, "up.conf", `[UPSTREAM]
    name  fleet
[NODE]
    name  a
    host  127.0.0.1
    port  8700
[NODE]
    name  b
    host  127.0.0.1
    port  8701
    oauth2.client_id  client-b
[NODE]
    name  c
    host  127.0.0.1
    port  8702
    bearer_token_file `+tokenFile+`
[NODE]
    name  d
    host  127.0.0.1
    port  8703
    oauth2.enable off
    bearer_token tk-node-d
`)
	cfg, err := loadConfig(mapSource{"upstream": file, "oauth2.enable": "on", "oauth2.token_url": "https://idp.test/token",
		"oauth2.client_id": "client-a", "oauth2.client_secret": "cs-a"}, coreEndpoint{}, "")
	if err != nil {
		t.Fatal(err)
	}
	nodes := cfg.Upstream.Nodes
	for i, want := range []string{"client-a", "client-b"} {
		ts, ok := nodes[i].Conn.Auth.(*tokenSource)
		if !ok || ts.s.ClientID != want || ts.s.TokenURL != "https://idp.test/token" || ts.s.ClientSecret != "cs-a" {
			t.Errorf("node %s: %+v, want the [OUTPUT]'s OAuth2 with client id %s", nodes[i].Name, nodes[i].Conn.Auth, want)
		}
	}
	if bf, ok := nodes[2].Conn.Auth.(bearerFile); !ok || bf.token.value != "tk-node-c" {
		t.Errorf("node c: %+v, want its token file and no OAuth2", nodes[2].Conn.Auth)
	}
	if nodes[3].Conn.Auth != nil || nodes[3].Conn.Header.Get("Authorization") != "Bearer tk-node-d" {
		t.Errorf("node d: %+v, %v: want its own bearer_token", nodes[3].Conn.Auth, nodes[3].Conn.Header)
	}
	if got := cfg.Secrets.scrub("cs-a tk-node-c tk-node-d"); got != "xxxxx xxxxx xxxxx" {
		t.Errorf("node secrets not scrubbed: %q", got)
	}

	// A node's unknown oauth2.* key is refused, as in the [OUTPUT].
	bad := writeTestFile(t, dir, "bad.conf", "[UPSTREAM]\n    name  f\n[NODE]\n    name  a\n    host  h\n    port  1\n    oauth2.client_secret_file  /x\n")
	if _, err := loadConfig(mapSource{"upstream": bad}, coreEndpoint{}, ""); err == nil || !strings.Contains(err.Error(), "unknown key 'oauth2.client_secret_file'") {
		t.Errorf("error %v", err)
	}
}
