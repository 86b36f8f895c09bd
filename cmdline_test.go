package main

import (
	"errors"
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
