package faithful

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/out-websocket/out_websocket/internal/hosttest"
	"github.com/out-websocket/out_websocket/internal/reference"
)

// pev is one "probe: {...}" line.
type pev map[string]any

func (e pev) s(k string) string {
	v, _ := e[k].(string)
	return v
}

func (e pev) i(k string) int {
	v, _ := e[k].(float64)
	return int(v)
}

func (e pev) b(k string) bool {
	v, _ := e[k].(bool)
	return v
}

// probeEvents returns the probe's events named ev ("" for all), in order.
func probeEvents(r hosttest.HostResult, ev string) []pev {
	var out []pev
	for _, l := range r.StdoutLines("probe: ") {
		var e pev
		if json.Unmarshal([]byte(l), &e) != nil {
			continue
		}
		if ev == "" || e.s("ev") == ev {
			out = append(out, e)
		}
	}
	return out
}

// probeProps maps label -> key -> event for "prop" events.
func probeProps(r hosttest.HostResult) map[string]map[string]pev {
	out := map[string]map[string]pev{}
	for _, e := range probeEvents(r, "prop") {
		if out[e.s("label")] == nil {
			out[e.s("label")] = map[string]pev{}
		}
		out[e.s("label")][e.s("key")] = e
	}
	return out
}

// runProbe runs the host on probe.so with extra environment.
func runProbe(t *testing.T, env []string, args ...string) hosttest.HostResult {
	t.Helper()
	return hosttest.RunHostWith(t, hosttest.HostOptions{Env: env}, append([]string{"-e", hosttest.ProbeSO()}, args...)...)
}

func engineLines(r hosttest.HostResult) []string {
	var out []string
	for _, l := range r.LogLines() {
		if strings.HasPrefix(l.Message, "[engine]") {
			out = append(out, l.Raw)
		}
	}
	return out
}

func countContaining(lines []string, sub string) int {
	n := 0
	for _, l := range lines {
		if strings.Contains(l, sub) {
			n++
		}
	}
	return n
}

func TestHostRegistration(t *testing.T) {
	r := runProbe(t, []string{"PROBE_FLAGS=32", "PROBE_NAME=probe_x"},
		"-o", "probe_x", "-i", reference.Chunk())
	r.RequireOK(t)
	reg := r.Registration(t)
	if reg.Name != "probe_x" || reg.Flags != 32 || reg.Type != 2 || reg.Proxy != 11 ||
		reg.Description != "flbhost probe plugin" {
		t.Fatalf("registration line wrong: %+v", reg)
	}
	ev := probeEvents(r, "register")
	if len(ev) != 1 || !ev[0].b("zeroed") || ev[0].i("type") != 2 {
		t.Fatalf("FLBPluginRegister must get a zeroed 7-field definition but for type 2: %v", ev)
	}
	pre := probeEvents(r, "preregister")
	if len(pre) != 1 || pre[0].i("hot") != 0 {
		t.Fatalf("FLBPluginPreRegister(0) expected once: %v", pre)
	}
	// Fluent Bit registers an output only for type 2 / proxy 11, and not
	// at all when PreRegister returns -1.
	for _, env := range [][]string{{"PROBE_TYPE=1"}, {"PROBE_PROXY=10"}, {"PROBE_PREREGISTER_RET=-1"}} {
		r := runProbe(t, env, "-o", "probe", "-i", reference.Chunk())
		if r.ExitCode == 0 || len(probeEvents(r, "init")) != 0 {
			t.Errorf("%v: the host must refuse the plugin\n%s", env, r.Dump())
		}
	}
}

func TestHostHiddenCoreKeys(t *testing.T) {
	hidden := map[string]string{
		"Host": "example.org", "Port": "8443", "tls": "off", "tls.verify": "off",
		"tls.ca_file": "/x", "Workers": "1", "Retry_Limit": "3", "Alias": "al",
		"Log_Level": "info", "Log_Suppress_Interval": "5", "ipv6": "off",
		"storage.total_limit_size": "5M", "net.keepalive_idle_timeout": "30",
		"net.connect_timeout": "5", "oauth2.enable": "on", "oauth2.token_url": "http://x",
		"Match": "*",
	}
	visible := map[string]string{
		"URI": "/something", "Format": "json", "json_date_key": "@timestamp",
		"json_date_format": "iso8601", "idle_interval": "21", "header": "X-A a",
		"unknown.key": "v", "tlsx": "y", "network": "z",
		// out_forward's key: Fluent Bit's core never takes it.
		"Upstream": "upstream.conf",
	}
	var conf strings.Builder
	var keys []string
	conf.WriteString("[OUTPUT]\n    Name probe\n    probe.label L\n")
	for k, v := range hidden {
		fmt.Fprintf(&conf, "    %s %s\n", k, v)
		keys = append(keys, k)
	}
	for k, v := range visible {
		fmt.Fprintf(&conf, "    %s %s\n", k, v)
		keys = append(keys, k)
	}
	keys = append(keys, "Name", "nonexistent")
	fmt.Fprintf(&conf, "    probe.keys %s\n", strings.Join(keys, ","))
	r := runProbe(t, nil, "-c", hosttest.WriteConfig(t, "h.conf", conf.String()), "-i", reference.Chunk())
	r.RequireOK(t)
	props := probeProps(r)["L"]
	for k := range hidden {
		if e, ok := props[k]; !ok || !e.b("null") {
			t.Errorf("core key %q must be invisible (NULL) to the plugin, got %v", k, e)
		}
	}
	for _, k := range []string{"Name", "nonexistent"} {
		if e := props[k]; !e.b("null") {
			t.Errorf("%q must read as NULL, got %v", k, e)
		}
	}
	for k, v := range visible {
		if e := props[k]; e.b("null") || e.s("value") != v {
			t.Errorf("key %q must be visible as %q, got %v", k, v, e)
		}
	}
}

// The oauth2* keys: before 5.0 they reach the plugin like any key; from
// 5.0 the core keeps every set key that starts with "oauth2" (even
// "oauth2_x") and, before the plugin's init, refuses one its OAuth2 map
// does not have, or one set twice (src/flb_output.c, src/flb_oauth2.c).
func TestHostOAuth2Keys(t *testing.T) {
	conf := func(keys string) string {
		return hosttest.WriteConfig(t, "o.conf", "[OUTPUT]\n    Name probe\n    probe.label O\n"+keys+
			"    probe.keys oauth2.enable,oauth2.token_url,oauth2_x\n")
	}
	keys := "    oauth2.enable on\n    oauth2.token_url http://idp/token\n    oauth2_x y\n"
	for version, visible := range map[string]bool{"4.0": true, "5.1": false} {
		var env []string
		if version != "5.1" {
			env = []string{"PROBE_DEF5=1"} // a definition of 5 fields before 5.0
		}
		r := runProbe(t, env, "--flb-version", version, "-c", conf(keys), "-i", reference.Chunk())
		if version == "5.1" {
			// oauth2_x is not in the map: the core stops before any init.
			if r.ExitCode != 255 || len(probeEvents(r, "init")) != 0 || r.CountLogs("error", "[config] probe: unknown configuration property 'oauth2_x'") != 1 {
				t.Errorf("5.1 must refuse oauth2_x before the plugin's init\n%s", r.Dump())
			}
			keys = "    oauth2.enable on\n    oauth2.token_url http://idp/token\n"
			r = runProbe(t, nil, "--flb-version", version, "-c", conf(keys), "-i", reference.Chunk())
		}
		r.RequireOK(t)
		props := probeProps(r)["O"]
		for _, k := range []string{"oauth2.enable", "oauth2.token_url"} {
			if e := props[k]; e.b("null") == visible {
				t.Errorf("%s: key %q visible %v, want %v: %v", version, k, !e.b("null"), visible, e)
			}
		}
	}
	twice := "    oauth2.scope a\n    oauth2.Scope b\n"
	if r := runProbe(t, nil, "-c", conf(twice), "-i", reference.Chunk()); r.ExitCode != 255 ||
		r.CountLogs("error", "configuration property 'oauth2.scope' is set 2 times") != 1 {
		t.Errorf("5.1 must refuse an oauth2 key set twice\n%s", r.Dump())
	}
}

func TestHostPropertyLookup(t *testing.T) {
	conf := hosttest.WriteConfig(t, "p.conf", `[OUTPUT]
    Name      probe
    probe.label P
    header    X-First 1
    Header    X-Second 2
    Format    json
    probe.keys header,HEADER,format,FORMAT,Format,uri
`)
	r := runProbe(t, nil, "-c", conf, "-i", reference.Chunk(), "-p", "x=y")
	if r.ExitCode == 0 {
		t.Fatalf("-p before any -o must be refused\n%s", r.Dump())
	}
	r = runProbe(t, nil, "-c", conf, "-i", reference.Chunk())
	r.RequireOK(t)
	props := probeProps(r)["P"]
	for _, k := range []string{"header", "HEADER"} {
		if props[k].s("value") != "X-First 1" {
			t.Errorf("repeated key %q must show only its FIRST value, got %v", k, props[k])
		}
	}
	for _, k := range []string{"format", "FORMAT", "Format"} {
		if props[k].s("value") != "json" {
			t.Errorf("lookup of %q must be case-insensitive, got %v", k, props[k])
		}
	}
	// an empty value (here: an unset variable) is NULL, as in Fluent Bit
	r = runProbe(t, []string{"FLBHOST_TEST_UNSET="}, "-o", "probe", "-p", "probe.label=E",
		"-p", "uri=${FLBHOST_TEST_UNSET}", "-p", "probe.keys=uri", "-i", reference.Chunk())
	r.RequireOK(t)
	if e := probeProps(r)["E"]["uri"]; !e.b("null") {
		t.Errorf("an empty value must read as NULL, got %v", e)
	}
	if !strings.Contains(r.Stderr, "[ warn] [env] variable ${FLBHOST_TEST_UNSET} is used but not set") {
		t.Errorf("unset variable not reported\n%s", r.Dump())
	}
}

func TestHostSharedPluginStructAndContext(t *testing.T) {
	r := runProbe(t, nil,
		"-o", "probe", "-m", "*", "-p", "probe.label=A",
		"-o", "probe", "-m", "*", "-p", "probe.label=B",
		"-i", reference.Chunk())
	r.RequireOK(t)
	inits := probeEvents(r, "init")
	if len(inits) != 2 {
		t.Fatalf("want 2 inits, got %v", inits)
	}
	a, b := inits[0], inits[1]
	if a.s("plugin") != b.s("plugin") || a.s("api") != b.s("api") {
		t.Errorf("one plugin struct and api table for all instances: %v / %v", a, b)
	}
	if a.s("o_ins") == b.s("o_ins") || a.s("context") == b.s("context") {
		t.Errorf("o_ins and context must be swapped before each Init: %v / %v", a, b)
	}
	if a.s("remote_context_before") != "(nil)" || b.s("remote_context_before") != "(nil)" {
		t.Errorf("each instance starts with an empty proxy context: %v / %v", a, b)
	}
	// FlushCtx and ExitCtx get each instance's own remote_context
	labels := map[string]int{}
	for _, f := range probeEvents(r, "flush") {
		labels[f.s("label")]++
	}
	if labels["A"] != 1 || labels["B"] != 1 || len(probeEvents(r, "badctx")) != 0 {
		t.Errorf("each instance must flush once with its own context: %v", labels)
	}
	if s := r.Summary(t, "probe.0"); s.Flushes != 1 || s.OK != 1 {
		t.Errorf("summary probe.0: %+v", s)
	}
}

func TestHostWorkersZeroSingleThread(t *testing.T) {
	r := runProbe(t, nil, "-o", "probe", "-p", "probe.sleep_ms=30",
		"-o", "probe", "-m", "*", "-p", "probe.sleep_ms=30", "-p", "match=*",
		"-i", reference.Chunk(), "-n", "4")
	r.RequireOK(t)
	inits := probeEvents(r, "init")
	tid := inits[0].i("tid")
	for _, e := range append(append(inits, probeEvents(r, "flush")...), probeEvents(r, "exitctx")...) {
		if e.i("tid") != tid {
			t.Fatalf("Workers 0: Init, flushes and exit must run on the one engine thread: %v vs %d", e, tid)
		}
		if e.s("ev") == "flush" && e.i("inflight") != 1 {
			t.Fatalf("Workers 0: flushes must be strictly sequential: %v", e)
		}
	}
	if s := r.Summary(t, "probe.1"); s.MaxInflight != 1 || s.Flushes != 4 {
		t.Errorf("summary: %+v", s)
	}
	if s, ok := r.Summaries["probe.0"]; !ok || s.Chunks != 0 {
		t.Errorf("probe.0 has no Match among two outputs: it must get nothing: %+v", s)
	}
}

func TestHostWorkersOverlap(t *testing.T) {
	r := runProbe(t, nil, "-o", "probe", "-p", "Workers=2", "-p", "probe.sleep_ms=250",
		"-i", reference.Chunk(), "-n", "4")
	r.RequireOK(t)
	s := r.Summary(t, "probe.0")
	if s.MaxInflight < 2 || s.Workers != 2 || s.Flushes != 4 || s.OK != 4 {
		t.Fatalf("Workers 2: flushes of one instance must overlap: %+v\n%s", s, r.Dump())
	}
	initTid := probeEvents(r, "init")[0].i("tid")
	tids := map[int]bool{}
	for _, f := range probeEvents(r, "flush") {
		tids[f.i("tid")] = true
		if f.i("tid") == initTid {
			t.Errorf("Workers 2: flushes run on worker threads, not the engine thread")
		}
	}
	if len(tids) != 2 {
		t.Errorf("Workers 2: want 2 flush threads, got %v", tids)
	}
	if !strings.Contains(r.Stderr, "[ info] [output:probe:probe.0] worker #1 started") {
		t.Errorf("missing worker start log\n%s", r.Stderr)
	}
}

func TestHostRetryLimit(t *testing.T) {
	cases := []struct {
		limit                                   string // "" = unset
		retryFirst                              int
		flushes, ok, retried, dropped, warnings int
		extra                                   string
	}{
		{"", 5, 2, 0, 2, 1, 1, "cannot be retried"},
		{"1", 1, 2, 1, 1, 0, 1, "succeeded at retry 1"},
		{"3", 2, 3, 1, 2, 0, 2, "succeeded at retry 2"},
		{"3", 9, 4, 0, 4, 1, 3, "cannot be retried"},
		{"no_limits", 6, 7, 1, 6, 0, 6, "succeeded at retry 6"},
		{"False", 4, 5, 1, 4, 0, 4, ""},
		{"off", 4, 5, 1, 4, 0, 4, ""},
		{"no_retries", 1, 1, 0, 1, 1, 0, "is not retried (no retry config)"},
		{"0", 5, 2, 0, 2, 1, 1, "invalid retry_limit. set default."},
	}
	for _, c := range cases {
		t.Run("limit="+c.limit, func(t *testing.T) {
			args := []string{"-o", "probe", "-p", fmt.Sprintf("probe.retry_first=%d", c.retryFirst),
				"-i", reference.Chunk(), "--retry-wait", "5", "--retry-cap", "20"}
			if c.limit != "" {
				args = append(args, "-p", "Retry_Limit="+c.limit)
			}
			r := runProbe(t, nil, args...)
			r.RequireOK(t)
			s := r.Summary(t, "probe.0")
			if s.Chunks != 1 || s.Flushes != c.flushes || s.OK != c.ok || s.Retried != c.retried ||
				s.Dropped != c.dropped || s.Errors != 0 {
				t.Fatalf("summary %+v, want flushes=%d ok=%d retried=%d dropped=%d",
					s, c.flushes, c.ok, c.retried, c.dropped)
			}
			eng := engineLines(r)
			re := regexp.MustCompile(`\[ warn\] \[engine\] failed to flush chunk '\d+-\d+\.\d+\.flb', retry in \d+ seconds: task_id=0, input=flbhost\.0 > output=probe\.0 \(out_id=0\)$`)
			n := 0
			for _, l := range eng {
				if re.MatchString(l) {
					n++
				}
			}
			if n != c.warnings {
				t.Errorf("want %d retry warnings, got %d\n%s", c.warnings, n, r.Stderr)
			}
			if c.dropped == 1 && c.limit != "no_retries" {
				re := regexp.MustCompile(`\[error\] \[engine\] chunk '\d+-\d+\.\d+\.flb' cannot be retried: task_id=0, input=flbhost\.0 > output=probe\.0$`)
				if countMatches(eng, re) != 1 {
					t.Errorf("missing 'cannot be retried'\n%s", r.Stderr)
				}
			}
			if c.extra != "" && !strings.Contains(r.Stderr, c.extra) {
				t.Errorf("stderr lacks %q\n%s", c.extra, r.Stderr)
			}
		})
	}
}

func countMatches(lines []string, re *regexp.Regexp) int {
	n := 0
	for _, l := range lines {
		if re.MatchString(l) {
			n++
		}
	}
	return n
}

func TestHostRetryDoesNotBlockOtherChunks(t *testing.T) {
	chunks := hosttest.WriteChunks(t, "chunks.bin", []byte{1}, []byte{2, 2}, []byte{3, 3, 3})
	r := runProbe(t, nil, "-o", "probe", "-p", "probe.retry_first=1",
		"-I", chunks, "--retry-wait", "700")
	r.RequireOK(t)
	var sizes []int
	for _, f := range probeEvents(r, "flush") {
		sizes = append(sizes, f.i("size"))
	}
	if fmt.Sprint(sizes) != "[1 2 3 1]" {
		t.Fatalf("while chunk 1 waits for its retry the others must flow: flush sizes %v", sizes)
	}
	if r.Duration < 650*time.Millisecond {
		t.Errorf("the retry came before --retry-wait: %v", r.Duration)
	}
}

func TestHostErrorIsDroppedSilently(t *testing.T) {
	for _, p := range []string{"probe.error_first=1", "probe.invalid_first=1"} {
		r := runProbe(t, nil, "-o", "probe", "-p", p, "-i", reference.Chunk(), "-n", "2",
			"--retry-wait", "5", "--log-level", "trace")
		r.RequireOK(t)
		s := r.Summary(t, "probe.0")
		if s.Flushes != 2 || s.Errors != 1 || s.OK != 1 || s.Retried != 0 || s.Dropped != 0 {
			t.Errorf("%s: FLB_ERROR (and any unknown code) drops the chunk at once: %+v", p, s)
		}
		if p == "probe.invalid_first=1" && s.Invalid != 1 {
			t.Errorf("invalid return code not counted: %+v", s)
		}
		if l := engineLines(r); len(l) != 0 {
			t.Errorf("%s: Fluent Bit logs nothing for FLB_ERROR, even at trace: %v", p, l)
		}
	}
}

func netDefault(t *testing.T, r hosttest.HostResult) pev {
	t.Helper()
	ev := probeEvents(r, "netdefault")
	if len(ev) != 1 {
		t.Fatalf("want one netdefault event\n%s", r.Dump())
	}
	return ev[0]
}

func TestHostNetHostFieldOffset(t *testing.T) {
	offsets := map[int]bool{}
	var base int
	for _, pad := range []int{0, 8, 200} {
		r := runProbe(t, nil, "-o", "probe", "-p", "Host=example.org", "-p", "Port=8443",
			"-p", "probe.netdefault=on", "-i", reference.Chunk(),
			"--host-field-pad", fmt.Sprint(pad))
		r.RequireOK(t)
		e := netDefault(t, r)
		if !e.b("found") || e.s("host") != "example.org" || e.i("port") != 8443 {
			t.Fatalf("pad %d: Host/Port must land in the instance's net host field: %v", pad, e)
		}
		if e.i("sds_len") != len("probe-scratch-host") || e.i("sds_alloc") < e.i("sds_len") {
			t.Errorf("sds header (len, alloc before the chars) wrong: %v", e)
		}
		if e.i("nonzero_bytes") > 12 || e.i("nonzero_bytes") < 3 {
			t.Errorf("flb_output_net_default must write one int and one pointer only: %v", e)
		}
		if pad == 0 {
			base = e.i("port_off")
		} else if e.i("port_off") != base+pad {
			t.Errorf("--host-field-pad %d must move the field by %d: %d -> %d", pad, pad, base, e.i("port_off"))
		}
		offsets[e.i("port_off")] = true
		names := probeEvents(r, "name")
		if len(names) != 1 || names[0].s("flb_output_name") != "probe.0" {
			t.Errorf("flb_output_name: %v", names)
		}
	}
	if len(offsets) != 3 {
		t.Errorf("offsets must differ between pads: %v", offsets)
	}
	// unset Host/Port read as NULL/0; the alias is what flb_output_name returns
	r := runProbe(t, nil, "-o", "probe", "-p", "Alias=my_out", "-p", "probe.netdefault=on",
		"-i", reference.Chunk())
	r.RequireOK(t)
	if e := netDefault(t, r); e["host"] != nil || e.i("port") != 0 {
		t.Errorf("unset Host/Port must be NULL/0: %v", e)
	}
	if n := probeEvents(r, "name"); len(n) != 1 || n[0].s("flb_output_name") != "my_out" {
		t.Errorf("flb_output_name must return the Alias: %v", n)
	}
	if s := r.Summary(t, "my_out"); s.Instance != "probe.0" {
		t.Errorf("summary by alias: %+v", s)
	}
}

func TestHostURLFormNeedsNetFlag(t *testing.T) {
	cases := []struct {
		flags      string
		host       any
		port       int
		uri        any
		extraProps []string
	}{
		{"32", "h1.example", 9000, "/path/x", nil},
		{"0", nil, 0, nil, nil},
		{"32", "h1.example", 1234, "/path/x", []string{"-p", "port=1234"}},
		{"0", "byprop", 77, nil, []string{"-p", "host=byprop", "-p", "port=77"}},
	}
	for _, c := range cases {
		args := append([]string{"-o", "probe://h1.example:9000/path/x", "-p", "probe.netdefault=on"},
			c.extraProps...)
		r := runProbe(t, []string{"PROBE_FLAGS=" + c.flags}, append(args, "-i", reference.Chunk())...)
		r.RequireOK(t)
		e := netDefault(t, r)
		if e["host"] != c.host || e.i("port") != c.port || e["uri"] != c.uri {
			t.Errorf("flags %s %v: got host=%v port=%v uri=%v, want %v %v %v",
				c.flags, c.extraProps, e["host"], e["port"], e["uri"], c.host, c.port, c.uri)
		}
	}
}

func TestHostHideSymbols(t *testing.T) {
	for _, hide := range []bool{false, true} {
		args := []string{"-o", "probe", "-p", "probe.netdefault=on", "-i", reference.Chunk()}
		if hide {
			args = append(args, "--hide-symbols")
		}
		r := runProbe(t, nil, args...)
		r.RequireOK(t)
		sym := probeEvents(r, "symbols")[0]
		for _, k := range []string{"flb_output_net_default", "flb_sds_create", "flb_sds_destroy", "flb_output_name"} {
			if sym.b(k) == hide {
				t.Errorf("hide=%v: symbol %s visible=%v", hide, k, sym.b(k))
			}
		}
		if netDefault(t, r).b("found") == hide {
			t.Errorf("hide=%v: flb_output_net_default lookup wrong", hide)
		}
	}
}

func TestHostBuiltinSymbol(t *testing.T) {
	env := []string{"PROBE_BUILTIN_CHECK=websocket,http,nosuch"}
	r := runProbe(t, env, "-o", "probe", "-i", reference.Chunk(), "--builtin", "websocket")
	r.RequireOK(t)
	found := map[string]bool{}
	for _, e := range probeEvents(r, "builtin") {
		found[e.s("name")] = e.b("found")
	}
	if !found["websocket"] || found["http"] || found["nosuch"] {
		t.Errorf("--builtin websocket must export out_websocket_plugin before Register: %v", found)
	}
	r = runProbe(t, env, "-o", "probe", "-i", reference.Chunk())
	for _, e := range probeEvents(r, "builtin") {
		if e.b("found") {
			t.Errorf("without --builtin nothing is exported: %v", e)
		}
	}
	// a plugin registered under a built-in's name never gets an instance
	r = runProbe(t, []string{"PROBE_NAME=websocket"}, "-o", "websocket", "-i", reference.Chunk(),
		"--builtin", "websocket")
	r.RequireOK(t)
	if len(probeEvents(r, "init")) != 0 || len(r.SummaryList) != 0 {
		t.Errorf("the built-in must win the name: no Init, no instance\n%s", r.Dump())
	}
}

func TestHostInitFailureExits255(t *testing.T) {
	for _, ret := range []string{"0", "-1"} {
		r := runProbe(t, nil, "-o", "probe", "-p", "probe.init_ret="+ret, "-i", reference.Chunk())
		if r.ExitCode != 255 {
			t.Errorf("init %s: exit code %d, want 255", ret, r.ExitCode)
		}
		if !regexp.MustCompile(`(?m)^\[\d{4}/\d\d/\d\d \d\d:\d\d:\d\d\.\d{3}\] \[error\] \[go proxy\]: plugin 'probe' failed to initialize$`).MatchString(r.Stderr) {
			t.Errorf("missing Fluent Bit's init failure line\n%s", r.Stderr)
		}
		if len(probeEvents(r, "flush")) != 0 || len(r.SummaryList) != 0 {
			t.Errorf("nothing may run after a failed Init\n%s", r.Dump())
		}
	}
}

func TestHostLogFormatAndLevels(t *testing.T) {
	cases := []struct {
		name    string
		service string // [SERVICE] Log_Level
		level   string // instance Log_Level
		want    int    // highest level allowed
	}{
		{"default", "", "", 3},
		{"instance-error", "", "error", 1},
		{"instance-warning", "", "warning", 2},
		{"instance-debug", "", "debug", 4},
		{"instance-trace", "", "trace", 5},
		{"instance-off", "", "off", 0},
		{"service-debug", "debug", "", 4},
		{"service-error-instance-info", "error", "info", 3},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			conf := "[OUTPUT]\n    Name probe\n    probe.label lg\n    probe.log on\n"
			if c.service != "" {
				conf = "[SERVICE]\n    Log_Level " + c.service + "\n" + conf
			}
			if c.level != "" {
				conf += "    Log_Level " + c.level + "\n"
			}
			r := runProbe(t, nil, "-c", hosttest.WriteConfig(t, "l.conf", conf), "-i", reference.Chunk())
			r.RequireOK(t)
			for _, e := range probeEvents(r, "logcheck") {
				if e.b("ok") != (e.i("level") <= c.want) {
					t.Errorf("output_log_check(level %d) = %v, want allowed up to %d", e.i("level"), e.b("ok"), c.want)
				}
			}
			names := map[int]string{1: "error", 2: " warn", 3: " info", 4: "debug", 5: "trace"}
			for l := 1; l <= 5; l++ {
				line := fmt.Sprintf("[%s] [output:probe:lg] probe log level %d", names[l], l)
				re := regexp.MustCompile(`(?m)^\[\d{4}/\d\d/\d\d \d\d:\d\d:\d\d\.\d{3}\] ` + regexp.QuoteMeta(line) + `$`)
				if got := re.MatchString(r.Stderr); got != (l <= c.want) {
					t.Errorf("log line %q present=%v, want %v\n%s", line, got, l <= c.want, r.Stderr)
				}
			}
			// log_print itself filters nothing: the plugin must check first
			if !strings.Contains(r.Stderr, "[debug] [output:probe:lg] unguarded debug line") {
				t.Errorf("log_print must print regardless of the level\n%s", r.Stderr)
			}
		})
	}
	r := runProbe(t, nil, "-o", "probe", "-p", "Log_Level=verbose", "-i", reference.Chunk())
	if r.ExitCode == 0 {
		t.Errorf("an invalid Log_Level is a config error in Fluent Bit")
	}
}

func TestHostReadOnlyChunk(t *testing.T) {
	for _, p := range []string{"probe.write_chunk=on", "probe.read_past=on"} {
		r := runProbe(t, nil, "-o", "probe", "-p", p, "-i", reference.Chunk())
		if !r.Faulted() {
			t.Errorf("%s: the host must crash (SIGSEGV, then Fluent Bit's handler aborts), got exit %d signal %q", p, r.ExitCode, r.Signal)
		}
		if len(probeEvents(r, "write_chunk_survived")) != 0 {
			t.Errorf("%s: a write into the chunk must not survive", p)
		}
	}
	// the bytes handed over are the file's bytes, with size and tag
	r := runProbe(t, nil, "-o", "probe", "-t", "my.tag", "-i", reference.Chunk())
	r.RequireOK(t)
	f := probeEvents(r, "flush")[0]
	st, _ := os.Stat(reference.Chunk())
	if f.i("size") != int(st.Size()) || f.s("tag") != "my.tag" || f.i("b0") != 0x92 {
		t.Errorf("flush arguments wrong: %v", f)
	}
}

func evSeq(r hosttest.HostResult) []string {
	var seq []string
	for _, l := range strings.Split(r.Stdout, "\n") {
		switch {
		case strings.HasPrefix(l, "probe: "):
			var e pev
			if json.Unmarshal([]byte(strings.TrimPrefix(l, "probe: ")), &e) == nil {
				s := e.s("ev")
				switch s {
				case "symbols", "prop", "logcheck", "flush":
					continue
				case "preexit":
					s += fmt.Sprint(e.i("reload"))
				case "preregister", "prerun":
					s += fmt.Sprint(e.i("hot"))
				case "init", "exitctx":
					s += ":" + e.s("label")
				}
				seq = append(seq, s)
			}
		case l == "flbhost: reloaded":
			seq = append(seq, "RELOADED")
		case strings.HasPrefix(l, "flbhost: summary"):
			seq = append(seq, "SUMMARY")
		}
	}
	return seq
}

func TestHostShutdownOrder(t *testing.T) {
	r := runProbe(t, nil, "-o", "probe", "-m", "*", "-p", "probe.label=a", "-p", "Workers=1",
		"-o", "probe", "-m", "*", "-p", "probe.label=b", "-i", reference.Chunk())
	r.RequireOK(t)
	want := "preregister0 register init:a init:b prerun0 prerun0 preexit0 exitctx:a preexit0 exitctx:b unregister SUMMARY SUMMARY"
	if got := strings.Join(evSeq(r), " "); got != want {
		t.Errorf("call order\n got %s\nwant %s", got, want)
	}
	initTid := probeEvents(r, "init")[0].i("tid")
	for _, e := range probeEvents(r, "exitctx") {
		if e.i("tid") != initTid {
			t.Errorf("exit callbacks run on the engine thread: %v", e)
		}
	}
	// an old-style plugin: FLBPluginFlush and FLBPluginExit (once per instance)
	r = hosttest.RunHostWith(t, hosttest.HostOptions{}, "-e", hosttest.ProbeNoCtxSO(), "-o", "probe", "-m", "*",
		"-o", "probe", "-m", "*", "-i", reference.Chunk())
	r.RequireOK(t)
	want = "register init:i0 init:i1 prerun0 prerun0 oldflush oldflush exit exit unregister SUMMARY SUMMARY"
	if got := strings.Join(evSeq(r), " "); got != want {
		t.Errorf("old-style plugin order\n got %s\nwant %s", got, want)
	}
}

func TestHostHotReload(t *testing.T) {
	r := runProbe(t, nil, "-o", "probe", "-m", "*", "-p", "probe.label=a",
		"-o", "probe", "-m", "*", "-p", "probe.label=b",
		"-i", reference.Chunk(), "-n", "5", "--reload-after", "2")
	r.RequireOK(t)
	// flb_reload(): the plugin registers again for the new pipeline before
	// the old one stops; the old proxy is unregistered after its exits.
	want := "preregister0 register init:a init:b prerun1 prerun1 " +
		"preregister1 register preexit1 exitctx:a preexit1 exitctx:b unregister RELOADED " +
		"init:a init:b prerun1 prerun1 " +
		"preexit0 exitctx:a preexit0 exitctx:b unregister SUMMARY SUMMARY"
	if got := strings.Join(evSeq(r), " "); got != want {
		t.Errorf("hot reload sequence\n got %s\nwant %s", got, want)
	}
	if r.Reloads != 1 || len(r.Registrations) != 2 {
		t.Errorf("reloads=%d registrations=%d", r.Reloads, len(r.Registrations))
	}
	for _, name := range []string{"probe.0", "probe.1"} {
		if s := r.Summary(t, name); s.Chunks != 5 || s.OK != 5 {
			t.Errorf("summary covers the whole run: %+v", s)
		}
	}
}

// A hot reload Fluent Bit rejects (flb_reload of 2.2 to 5.1): the config is
// read again, the plugin registered again, and when the new outputs fail
// their checks that registration is unregistered while the old pipeline
// runs on; its instance keeps flushing. The SIGHUP handler installs every
// handler anew (flb_signal_init).
func TestHostFailedReload(t *testing.T) {
	good := "[SERVICE]\n    Hot_Reload On\n[OUTPUT]\n    Name probe\n    Match *\n    probe.label a\n"
	conf := hosttest.WriteConfig(t, "fluent-bit.conf", good)
	h := hosttest.StartHost(t, hosttest.HostOptions{}, "-e", hosttest.ProbeSO(), "-c", conf,
		"-i", reference.Chunk(), "-n", "20", "--chunk-interval", "100")
	if !h.WaitFor(`"ev":"flush"`, 10*time.Second) {
		t.Fatalf("no flush before the reload")
	}
	if err := os.WriteFile(conf, []byte(good+"    Log_Level verbose\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	h.Signal(syscall.SIGHUP)
	r := h.Wait()
	r.RequireOK(t)
	seq := strings.Join(evSeq(r), " ")
	want := "preregister0 register init:a prerun1 preregister1 register unregister preexit0 exitctx:a unregister SUMMARY"
	if seq != want {
		t.Errorf("failed reload sequence\n got %s\nwant %s", seq, want)
	}
	if r.Reloads != 0 || len(r.Registrations) != 2 || !strings.Contains(r.Stderr, "reloaded config format is invalid. Reloading is halted") {
		t.Errorf("%d reloads, %d registrations\n%s", r.Reloads, len(r.Registrations), r.Dump())
	}
	if s := r.Summary(t, "probe.0"); s.OK != 20 {
		t.Errorf("the running pipeline must flush every chunk: %+v", s)
	}
	if len(r.Signals) == 0 || r.Signals[0]["SIGTERM"].Handler != "fluent-bit" || r.Signals[0]["SIGTERM"].OnStack {
		t.Errorf("after SIGHUP, SIGTERM must be Fluent Bit's handler, installed by signal(): %+v", r.Signals)
	}
}

func TestHostSignalShutdown(t *testing.T) {
	h := hosttest.StartHost(t, hosttest.HostOptions{}, "-e", hosttest.ProbeSO(), "-o", "probe", "-p", "probe.sleep_ms=100",
		"-i", reference.Chunk(), "-n", "200")
	if !h.WaitFor(`"ev":"flush"`, 10*time.Second) {
		t.Fatalf("no flush before the signal")
	}
	time.Sleep(150 * time.Millisecond)
	h.Signal(syscall.SIGTERM)
	r := h.Wait()
	r.RequireOK(t)
	seq := strings.Join(evSeq(r), " ")
	if !strings.HasSuffix(seq, "preexit0 exitctx:i0 unregister SUMMARY") {
		t.Errorf("SIGTERM must shut down in order: %s", seq)
	}
	if !strings.Contains(r.Stderr, "[engine] caught signal (SIGTERM)") {
		t.Errorf("missing signal line\n%s", r.Stderr)
	}
	if s := r.Summary(t, "probe.0"); s.Chunks == 0 || s.Chunks >= 200 || s.OK != s.Chunks {
		t.Errorf("summary after SIGTERM: %+v", s)
	}
}

func TestHostMaxRuntimeAbandonsRetries(t *testing.T) {
	r := runProbe(t, nil, "-o", "probe", "-p", "probe.retry_first=1000", "-p", "Retry_Limit=no_limits",
		"-i", reference.Chunk(), "--retry-wait", "50", "--retry-cap", "100", "--max-runtime", "1")
	r.RequireOK(t)
	s := r.Summary(t, "probe.0")
	if s.Dropped != 1 || s.OK != 0 || s.Retried < 5 || s.Flushes != s.Retried {
		t.Errorf("pending retry must be abandoned and counted dropped: %+v", s)
	}
	if r.Duration > 5*time.Second {
		t.Errorf("--max-runtime 1 took %v", r.Duration)
	}
}

func TestHostMatch(t *testing.T) {
	cases := []struct {
		match, tag string
		want       bool
	}{
		{"*", "anything", true},
		{"app.*", "app.logs", true},
		{"app.*", "app", false},
		{"app.*", "other.logs", false},
		{"*.log", "a.b.log", true},
		{"a*c*e", "abcde", true},
		{"App.*", "app.x", false},
		{"demo", "demo", true},
		{"demo", "demo2", false},
	}
	for _, c := range cases {
		// two outputs, so no 1:1 default route applies
		r := runProbe(t, nil, "-o", "probe", "-m", c.match, "-p", "probe.label=m",
			"-o", "other_plugin", "-t", c.tag, "-i", reference.Chunk())
		r.RequireOK(t)
		got := r.Summary(t, "probe.0").Chunks == 1
		if got != c.want {
			t.Errorf("Match %q tag %q: routed=%v want %v", c.match, c.tag, got, c.want)
		}
	}
	// one output without Match gets everything (flb_router_io_set 1:1)
	r := runProbe(t, nil, "-o", "probe", "-t", "x.y", "-i", reference.Chunk())
	if r.Summary(t, "probe.0").Chunks != 1 {
		t.Errorf("single output without Match must match all\n%s", r.Dump())
	}
	r = runProbe(t, nil, "-o", "probe", "-p", "Match_Regex=.*", "-i", reference.Chunk())
	if r.ExitCode == 0 || !strings.Contains(r.Stderr, "Match_Regex is not supported") {
		t.Errorf("Match_Regex must be refused loudly\n%s", r.Dump())
	}
}

// tls on for a plugin without FLB_IO_TLS: Fluent Bit 4.0.3 and later stop
// (src/flb_config.c: goto error); before, they log it and the instance runs
// without TLS (seen in real 1.9.10, 2.2.3 and 3.2.10, and 5.1.1 stopping).
func TestHostTLSNeedsPluginFlag(t *testing.T) {
	for _, tt := range []struct{ version, words string }{{"5.1", "does not support TLS"}, {"4.0", "does not support TLS"}} {
		r := runProbe(t, []string{"PROBE_DEF5=1"}, "--flb-version", tt.version, "-o", "probe", "-p", "tls=on", "-i", reference.Chunk())
		if r.ExitCode == 0 || !strings.Contains(r.Stderr, "[config] probe.0 "+tt.words) {
			t.Errorf("%s: tls on for a plugin without FLB_IO_TLS stops Fluent Bit\n%s", tt.version, r.Dump())
		}
	}
	for _, tt := range []struct{ version, words string }{{"1.9", "don't support TLS"}, {"2.0", "don't support TLS"}, {"2.2", "does not support TLS"}, {"3.2", "does not support TLS"}} {
		r := runProbe(t, []string{"PROBE_DEF5=1"}, "--flb-version", tt.version, "-o", "probe", "-p", "tls=on", "-i", reference.Chunk())
		r.RequireOK(t)
		if r.CountLogs("error", "[config] probe.0 "+tt.words) != 1 || r.CountLogs("error", "could not configure property 'tls' on output plugin with section name 'probe'") != 1 {
			t.Errorf("%s: tls on for a plugin without FLB_IO_TLS is logged, and Fluent Bit runs on\n%s", tt.version, r.Dump())
		}
	}
	r := runProbe(t, []string{"PROBE_FLAGS=4"}, "-o", "probe", "-p", "tls=on", "-i", reference.Chunk())
	r.RequireOK(t)
}

func TestHostClassicConfig(t *testing.T) {
	hosttest.WriteConfig(t, "plugins/plugins.conf", "[PLUGINS]\n    Path "+hosttest.ProbeSO()+"\n")
	hosttest.WriteConfig(t, "outputs/extra.conf", `[OUTPUT]
    Name  probe
    Match ${MATCH_ALL}
    probe.label included
`)
	conf := hosttest.WriteConfig(t, "main.conf", `# comment
@SET MATCH_ALL=*
@SET FROM_SET=set-value
[SERVICE]
    Flush        1
    Log_Level    debug
    plugins_file plugins/plugins.conf

[INPUT]
    Name  dummy
    Tag   app.logs

[FILTER]
    Name  grep
    Match *

[OUTPUT]
    Name        stdout
    Match       *

[OUTPUT]
    Name        probe
    Match       app.*
    probe.label first
    uri         ${FLBHOST_TEST_URI}/x
    note        ${FROM_SET}
    host        ${FLBHOST_TEST_HOST}
    probe.keys  uri,note,host

[OUTPUT]
    Name        probe
    Match       nothing.here
    probe.label none

@INCLUDE outputs/extra.conf
`)
	other := t.TempDir() // run elsewhere: relative paths resolve against the config's dir
	r := hosttest.RunHostWith(t, hosttest.HostOptions{Dir: other,
		Env: []string{"FLBHOST_TEST_URI=/base", "FLBHOST_TEST_HOST=h.example"}},
		"-c", conf, "-i", reference.Chunk())
	r.RequireOK(t)
	props := probeProps(r)["first"]
	if props["uri"].s("value") != "/base/x" || props["note"].s("value") != "set-value" || !props["host"].b("null") {
		t.Errorf("${VAR} expansion: %v", props)
	}
	// stdout.0 is skipped but keeps its id, as in a Fluent Bit that has it
	if !strings.Contains(r.Stderr, "output 'stdout'") {
		t.Errorf("the foreign [OUTPUT] must be reported\n%s", r.Stderr)
	}
	for name, chunks := range map[string]int{"probe.1": 1, "probe.2": 0, "probe.3": 1} {
		if s := r.Summary(t, name); s.Chunks != chunks {
			t.Errorf("%s: chunks %d want %d", name, s.Chunks, chunks)
		}
	}
	if f := probeEvents(r, "flush"); len(f) != 2 || f[0].s("tag") != "app.logs" {
		t.Errorf("the [INPUT] Tag is the default tag: %v", f)
	}
	// a broken file is refused
	bad := hosttest.WriteConfig(t, "bad.conf", "[OUTPUT]\nName probe\n")
	if r := runProbe(t, nil, "-c", bad); r.ExitCode == 0 {
		t.Errorf("an unindented key must be refused")
	}
	bad = hosttest.WriteConfig(t, "bad2.conf", "[OUTPUT]\n    Name probe\n    uri\n")
	if r := runProbe(t, nil, "-c", bad); r.ExitCode == 0 {
		t.Errorf("a key without value must be refused")
	}
}

func TestHostYAMLConfig(t *testing.T) {
	hosttest.WriteConfig(t, "plugins.yaml", "plugins:\n  - "+hosttest.ProbeSO()+"\n")
	conf := hosttest.WriteConfig(t, "fb.yaml", `# yaml
env:
  MY_FORMAT: json_lines
service:
  log_level: info
  plugins_file: plugins.yaml
pipeline:
  inputs:
    - name: dummy
      tag: y.tag
  outputs:
    - name: probe
      match: 'y.*'
      probe.label: yl
      format: ${MY_FORMAT}
      uri: "/quoted path"   # a comment
      header:
        - X-One 1
        - X-Two 2
      host: 127.0.0.1
      port: 9
      probe.keys: format,uri,header,host,port
    - name: probe
      match: nomatch
      probe.label: y2
`)
	r := hosttest.RunHostWith(t, hosttest.HostOptions{Dir: t.TempDir()}, "-c", conf, "-i", reference.Chunk())
	r.RequireOK(t)
	props := probeProps(r)["yl"]
	if props["format"].s("value") != "json_lines" || props["uri"].s("value") != "/quoted path" ||
		props["header"].s("value") != "X-One 1" || !props["host"].b("null") || !props["port"].b("null") {
		t.Errorf("YAML properties: %v", props)
	}
	if r.Summary(t, "probe.0").Chunks != 1 || r.Summary(t, "probe.1").Chunks != 0 {
		t.Errorf("YAML match routing\n%s", r.Dump())
	}
	if f := probeEvents(r, "flush"); len(f) != 1 || f[0].s("tag") != "y.tag" {
		t.Errorf("YAML input tag: %v", f)
	}
	bad := hosttest.WriteConfig(t, "bad.yaml", "pipeline:\n  outputs:\n    - name: probe\n      x: {a: 1}\n")
	if r := runProbe(t, nil, "-c", bad); r.ExitCode == 0 {
		t.Errorf("unsupported YAML must be refused, not misread")
	}
}

// Each --flb-version profile hands the plugin its release's structs, each
// ending at a guard page, and exports its release's symbols: a plugin that
// reads a field the release does not have faults at once.
func TestHostVersionGuards(t *testing.T) {
	tests := []struct {
		version  string
		def5     bool // the probe reads the def as 5 fields
		log      bool // the probe calls the api's output_log_check and log_print
		segv     bool
		log20    bool // flb_output_log_check exported
		cmetrics bool // flb_output_get_cmt_instance, cmt_* exported
	}{
		{"1.9", true, false, false, false, false},
		{"1.9", true, true, true, false, false}, // api->output_log_check: past 1 field
		{"2.0", false, false, true, true, true}, // def->event_type: past 5 fields
		{"3.2", true, true, false, true, true},
		{"4.0", false, false, true, true, true},
		{"5.1", false, true, false, true, true},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s def5 %v log %v", tt.version, tt.def5, tt.log), func(t *testing.T) {
			var env []string
			if tt.def5 {
				env = append(env, "PROBE_DEF5=1")
			}
			r := runProbe(t, env, "--flb-version", tt.version, "-o", "probe", "-p", fmt.Sprintf("probe.log=%v", tt.log),
				"-i", reference.Chunk())
			if segv := r.Faulted(); segv != tt.segv || (!segv && r.ExitCode != 0) {
				t.Fatalf("exit %d, signal %q; want a segfault: %v\n%s", r.ExitCode, r.Signal, tt.segv, r.Dump())
			}
			if tt.segv && !tt.def5 {
				return // it died in FLBPluginRegister, before listing symbols
			}
			sym := probeEvents(r, "symbols")
			if len(sym) != 1 {
				t.Fatalf("no symbols event\n%s", r.Dump())
			}
			if !sym[0].b("flb_log_print") || !sym[0].b("flb_worker_get") || !sym[0].b("flb_output_net_default") ||
				sym[0].b("flb_output_log_check") != tt.log20 || sym[0].b("flb_output_get_cmt_instance") != tt.cmetrics ||
				sym[0].b("cmt_counter_create") != tt.cmetrics || sym[0].b("cmt_histogram_create") != tt.cmetrics {
				t.Errorf("exported symbols %v", sym[0])
			}
		})
	}
}

// Fluent Bit 1.9's exit: every instance's ExitCtx gets the context of the
// instance initialised last, and the first exit unregisters the plugin.
func TestHostExitOf19(t *testing.T) {
	r := runProbe(t, []string{"PROBE_DEF5=1"}, "--flb-version", "1.9",
		"-o", "probe", "-m", "*", "-p", "probe.label=a", "-o", "probe", "-m", "*", "-p", "probe.label=b",
		"-i", reference.Chunk())
	r.RequireOK(t)
	want := "register init:a init:b exitctx:b unregister SUMMARY SUMMARY"
	if got := strings.Join(evSeq(r), " "); got != want {
		t.Errorf("1.9 exit order\n got %s\nwant %s", got, want)
	}
	if r.CountLogs("warn", "would run the exit callback of a destroyed proxy") != 1 {
		t.Errorf("no warning for probe.1's exit\n%s", r.Dump())
	}
}

// TestHostLogDestination: Fluent Bit's flb_log_print sends a line to its
// logger (Log_File, counted in fluentbit_logs_total) only from a thread with
// a worker (src/flb_log.c): the engine thread, where Init runs, and each
// output worker thread; a plugin's own thread, and the main thread that
// registers plugins, write to stderr, uncounted. The host's own lines go to
// the Log_File too. The same with flb_worker_ctx a pthread key.
func TestHostLogDestination(t *testing.T) {
	for _, c := range []struct {
		workers string
		args    []string
	}{{"0", nil}, {"1", nil}, {"1", []string{"--worker-key"}}} {
		workers := c.workers
		t.Run(fmt.Sprintf("workers %s %v", workers, c.args), func(t *testing.T) {
			logFile := filepath.Join(hosttest.TempDir(t), "fb.log")
			conf := hosttest.WriteConfig(t, "l.conf", "[SERVICE]\n    Log_File "+logFile+
				"\n[OUTPUT]\n    Name probe\n    Match *\n    probe.label lf\n    probe.worker_log on\n    Workers "+workers+"\n")
			r := runProbe(t, nil, append(c.args, "-c", conf, "-i", reference.Chunk())...)
			r.RequireOK(t)
			data, err := os.ReadFile(logFile)
			if err != nil {
				t.Fatal(err)
			}
			file := hosttest.ParseLogLines(string(data))

			want := map[string]bool{"init": true, "flush": true, "own_thread": false}
			for _, e := range probeEvents(r, "worker") {
				if e.b("set") != want[e.s("where")] {
					t.Errorf("flb_worker_get() in %s: set=%v, want %v", e.s("where"), e.b("set"), want[e.s("where")])
				}
			}
			if reg := probeEvents(r, "register"); len(reg) != 1 || reg[0].b("worker") {
				t.Errorf("register events %v: want one, on a thread without a worker", reg)
			}
			for where, toFile := range want {
				line := "[output:probe:lf] log line from " + where
				inFile := strings.Contains(string(data), line)
				onStderr := strings.Contains(r.Stderr, line)
				if inFile != toFile || onStderr == toFile {
					t.Errorf("%q: in the log file %v, on stderr %v; want in the file %v\nfile:\n%s\nstderr:\n%s", line, inFile, onStderr, toFile, data, r.Stderr)
				}
			}
			if workers == "1" && !strings.Contains(string(data), "[output:probe:probe.0] worker #0 started") {
				t.Errorf("the host's own lines go to the log file too\n%s", data)
			}
			total := 0
			for _, n := range r.LogsTotal {
				total += n
			}
			if total != len(file) || r.LogsTotal["info"] == 0 {
				t.Errorf("logs_total %v counts %d lines, the log file has %d", r.LogsTotal, total, len(file))
			}
		})
	}
}
