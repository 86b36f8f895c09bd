package main

import (
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// The main config file and -w are read from Fluent Bit's command line as
// glibc's getopt_long reads it with fluent-bit's options.
func TestParseCommandLine(t *testing.T) {
	tests := []struct {
		args         string
		config, wdir string
	}{
		{"-c /etc/fb.conf", "/etc/fb.conf", ""},
		{"-e p.so -cfb.conf", "fb.conf", ""},
		{"--config a.yaml", "a.yaml", ""},
		{"--config=a.yaml -c b.conf", "b.conf", ""}, // the last -c wins
		{"--conf=x", "x", ""},                       // an abbreviation
		{"--co x", "", ""},                          // config, coro_stack_size, custom: ambiguous
		{"--con x", "x", ""},
		{"-qc x", "x", ""},
		{"-vvcx", "x", ""},
		{"-p -cfoo -c x", "x", ""}, // -p takes -cfoo as its value
		{"-p -cfoo", "", ""},
		{"-c=x", "=x", ""}, // not a form of -c x: getopt keeps the =
		{"dummy -c x", "x", ""},
		{"-i dummy -o stdout", "", ""},
		{"-- -c x", "", ""},
		{"-c", "", ""},
		{"--config", "", ""},
		{"-d -c x -w /srv", "x", "/srv"},
		{"--workdir=w --config x", "x", "w"},
		{"--daemon=1 -c x", "x", ""},        // no_argument with a value: rejected, skipped
		{"--http_s -c x", "x", ""},          // http_server: -H, no argument
		{"--ht x -c y", "y", ""},            // http, http_server, http_listen, http_port: ambiguous
		{"--log-level debug -c x", "x", ""}, // unknown long options are skipped
		{"-Ix -n 3 -c y", "y", ""},          // unknown letters are skipped
	}
	for _, tt := range tests {
		args := append([]string{"fluent-bit"}, strings.Fields(tt.args)...)
		got := parseCommandLine(args)
		if got.ConfigFile != tt.config || got.Workdir != tt.wdir {
			t.Errorf("parseCommandLine(%q) = %+v, want config %q, workdir %q", tt.args, got, tt.config, tt.wdir)
		}
	}
}

// Fluent Bit changes to -w's directory before it opens -c, and the plugin
// may be loaded before (-e) or after (a plugins file) that change.
func TestConfigCandidates(t *testing.T) {
	tests := []struct {
		cl   commandLine
		want []string
	}{
		{commandLine{}, nil},
		{commandLine{ConfigFile: "/etc/fb.conf", Workdir: "/srv"}, []string{"/etc/fb.conf"}},
		{commandLine{ConfigFile: "fb.conf"}, []string{"/start/fb.conf"}},
		{commandLine{ConfigFile: "fb.conf", Workdir: "/srv"}, []string{"/srv/fb.conf", "/start/fb.conf"}},
		{commandLine{ConfigFile: "fb.conf", Workdir: "w"}, []string{"/start/w/fb.conf", "/start/fb.conf"}},
	}
	for _, tt := range tests {
		if got := tt.cl.configCandidates("/start"); !slices.Equal(got, tt.want) {
			t.Errorf("%+v.configCandidates(/start) = %q, want %q", tt.cl, got, tt.want)
		}
	}
}

// The first candidate that exists is the file, by its real path; when none
// does, the error names every path tried.
func TestFindConfigFile(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "fb.conf")
	if err := os.WriteFile(real, []byte("[SERVICE]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.conf")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "none", "fb.conf")

	got, err := findConfigFile([]string{missing, link})
	if err != nil || got != real {
		t.Errorf("findConfigFile = %q, %v; want %q", got, err, real)
	}
	other := filepath.Join(dir, "other.conf")
	_, err = findConfigFile([]string{missing, other})
	var nf errNoConfigFile
	if !errors.As(err, &nf) || !strings.Contains(err.Error(), missing) || !strings.Contains(err.Error(), other) {
		t.Errorf("findConfigFile of missing files: %v; want an error naming %s and %s", err, missing, other)
	}
	if got, err := findConfigFile(nil); got != "" || err != nil {
		t.Errorf("findConfigFile(nil) = %q, %v; want none, no error", got, err)
	}
}

// Grace comes from the service section, classic or YAML, as Fluent Bit
// reads it (atoi: "10s" is 10, "abc" is 0); 5 s when unset.
func TestGraceOf(t *testing.T) {
	t.Setenv("CMDLINE_TEST_GRACE", "12")
	tests := []struct {
		file, text string
		want       time.Duration
	}{
		{"a.conf", "[SERVICE]\n    Flush 1\n    Grace 15\n", 15 * time.Second},
		{"a.conf", "[SERVICE]\n    grace    30\n[OUTPUT]\n    Grace 1\n", 30 * time.Second},
		{"a.conf", "[INPUT]\n    Grace 1\n", defaultGrace},
		{"a.conf", "[SERVICE]\n    Grace ${CMDLINE_TEST_GRACE}\n", 12 * time.Second},
		{"a.conf", "[SERVICE]\n    Grace -1\n", -time.Second},
		{"a.conf", "[SERVICE]\n    Grace 10s\n", 10 * time.Second},
		{"a.conf", "[SERVICE]\n    Grace abc\n", 0},
		{"a.yaml", "service:\n  flush: 1\n  grace: 20\npipeline:\n  outputs:\n    - name: x\n", 20 * time.Second},
		{"a.yml", "service:\n  Grace: '${CMDLINE_TEST_GRACE}'\n", 12 * time.Second},
		{"a.yaml", "pipeline:\n  inputs: []\n", defaultGrace},
		{"a.yaml", "service: [\n", defaultGrace},
	}
	for _, tt := range tests {
		if got := graceOf(tt.file, []byte(tt.text)); got != tt.want {
			t.Errorf("graceOf(%s, %q) = %v, want %v", tt.file, tt.text, got, tt.want)
		}
	}
}

func TestAtoi(t *testing.T) {
	for in, want := range map[string]int{"15": 15, " 7": 7, "-1": -1, "+3": 3, "10s": 10, "abc": 0, "": 0, "-": 0} {
		if got := atoi(in); got != want {
			t.Errorf("atoi(%q) = %d, want %d", in, got, want)
		}
	}
}

// -o starts an output and -p sets a property of the section just before
// it; -p after -i sets the input's.
func TestParseCommandLineOutputs(t *testing.T) {
	args := strings.Fields("fluent-bit -p port=1 -o websocket_go://h:9/x -p port=abc -p Alias=a -i dummy -p port=2 -o stdout -pport=3 -p bad")
	got := parseCommandLine(args).Outputs
	want := []map[string]string{{"name": "websocket_go", "port": "abc", "alias": "a"}, {"name": "stdout", "port": "3"}}
	if len(got) != len(want) {
		t.Fatalf("outputs %v, want %v", got, want)
	}
	for i := range want {
		if !maps.Equal(got[i], want[i]) {
			t.Errorf("output %d: %v, want %v", i, got[i], want[i])
		}
	}
}

// Outputs are listed in Fluent Bit's order: the command line's, then the
// config file's, @INCLUDE and includes: in place.
func TestOutputsAsWritten(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("out-b.conf", "[OUTPUT]\n    Name b\n    Port 2\n")
	classic := write("fb.conf", "[SERVICE]\n    Port 9\n[OUTPUT]\n    Name  a\n    Port  1\n@INCLUDE out-*.conf\n[INPUT]\n    Name dummy\n    Port 8\n[OUTPUT]\n    Name c\n")
	write("more.yaml", "pipeline:\n  outputs:\n    - name: y\n      port: 0123\n")
	yml := write("fb.yaml", "includes:\n  - more.yaml\npipeline:\n  inputs:\n    - name: dummy\n  outputs:\n    - name: z\n      Port: abc\n")
	cl := commandLine{Outputs: []map[string]string{{"name": "cli"}}}

	names := func(outs []map[string]string) string {
		var s []string
		for _, o := range outs {
			s = append(s, o["name"]+":"+o["port"])
		}
		return strings.Join(s, " ")
	}
	if got, want := names(outputsAsWritten(cl, classic)), "cli: a:1 b:2 c:"; got != want {
		t.Errorf("classic: %q, want %q", got, want)
	}
	if got, want := names(outputsAsWritten(cl, yml)), "cli: y:0123 z:abc"; got != want {
		t.Errorf("YAML: %q, want %q", got, want)
	}
	if got, want := names(outputsAsWritten(cl, "")), "cli:"; got != want {
		t.Errorf("no config file: %q, want %q", got, want)
	}
}

// The tls keys of an output as written, ${VAR} expanded; no others.
func TestTLSKeysAsWritten(t *testing.T) {
	t.Setenv("CMDLINE_TEST_TLS", "on")
	got := tlsKeysAsWritten(map[string]string{"name": "websocket_go", "tls": "${CMDLINE_TEST_TLS}", "tls.verify": "off", "ws_tls": "on", "tlsx": "1"})
	if want := map[string]string{"tls": "on", "tls.verify": "off"}; !maps.Equal(got, want) {
		t.Errorf("tlsKeysAsWritten = %v, want %v", got, want)
	}
	if got := tlsKeysAsWritten(nil); len(got) != 0 {
		t.Errorf("tlsKeysAsWritten(nil) = %v", got)
	}
}

// An instance's Port as written is found by its Alias or its id, only in
// an output of this plugin whose text the core read as the same number.
func TestPortAsWritten(t *testing.T) {
	t.Setenv("CMDLINE_TEST_PORT", "abc")
	outs := []map[string]string{
		{"name": "stdout", "port": "1"},
		{"name": "websocket_go", "port": "abc"},
		{"name": "websocket_go", "port": "0", "alias": "ws"},
		{"name": "Websocket_Go://h:1/", "port": "99999"},
		{"name": "websocket_go"},
		{"name": "websocket_go", "port": "${CMDLINE_TEST_PORT}"},
	}
	tests := []struct {
		instance string
		core     int
		want     string
		ok       bool
	}{
		{"websocket_go.1", 0, "abc", true},
		{"ws", 0, "0", true},
		{"websocket_go.3", 99999, "99999", true},
		{"websocket_go.5", 0, "abc", true},
		{"websocket_go.0", 1, "", false},    // another plugin's output
		{"websocket_go.1", 8080, "", false}, // not what the core read: not this one
		{"websocket_go.4", 0, "", false},    // no Port written
		{"websocket_go.9", 0, "", false},
		{"other", 0, "", false},
	}
	for _, tt := range tests {
		got, ok := portAsWritten(outputAsWritten(outs, tt.instance, "websocket_go"), tt.core)
		if ok != tt.ok || (ok && got != tt.want) {
			t.Errorf("portAsWritten(%s, %d) = %q, %v; want %q, %v", tt.instance, tt.core, got, ok, tt.want, tt.ok)
		}
	}
}
