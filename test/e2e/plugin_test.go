package e2e

// The plugin as a Fluent Bit user meets it: the built-in's documented
// config, the -o URL form, Host and Port read from the core, its name, its
// log lines, several instances, a hot reload, and every file in conf/.

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/out-websocket/out_websocket/internal/chunktest"
	"github.com/out-websocket/out_websocket/internal/hosttest"
	"github.com/out-websocket/out_websocket/internal/reference"
	"github.com/out-websocket/out_websocket/internal/wstest"
)

func readReference(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(reference.Path(name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// builtinExample is the built-in websocket output's documented example with
// only Name changed, pointed at a test server.
func builtinExample(host string, port int) string {
	return fmt.Sprintf(`[OUTPUT]
    Name          websocket_go
    Match         *
    Host          %s
    Port          %d
    URI           /something
    Format        json
    Idle_interval 21
`, host, port)
}

// The documented example delivers to the configured host, port and path,
// with Host and Port in the core-owned field wherever the host puts it, and
// the payload is byte for byte what Fluent Bit's own formatter makes.
func TestBuiltinExampleDelivers(t *testing.T) {
	want := readReference(t, "formats/json.double.date")
	for _, pad := range []int{0, 8, 4096} {
		t.Run("pad "+strconv.Itoa(pad), func(t *testing.T) {
			srv := wstest.StartWSServer(t, wstest.WSOptions{Path: "/something"})
			conf := hosttest.WriteConfig(t, "fluent-bit.conf", builtinExample(srv.HostPort()))
			r := hosttest.RunHost(t, "--host-field-pad", strconv.Itoa(pad), "-e", hosttest.PluginSO(t), "-c", conf,
				"-i", reference.Chunk())
			r.RequireOK(t)
			if s := r.Summary(t, "websocket_go.0"); s.OK != 1 || s.Retried != 0 {
				t.Fatalf("summary %+v\n%s", s, r.Dump())
			}
			msgs := srv.WaitMessages(1, 5*time.Second)
			if len(msgs) != 1 || msgs[0].Binary || !bytes.Equal(msgs[0].Data, want) {
				t.Fatalf("got %d messages; first differs from json.double.date\n%s", len(msgs), r.Dump())
			}
		})
	}
}

// `fluent-bit -o websocket_go://host:port/path` works: the plugin registers
// FLB_OUTPUT_NET, so the core parses the URL into the instance.
func TestURLForm(t *testing.T) {
	srv := wstest.StartWSServer(t, wstest.WSOptions{Path: "/path"})
	host, port := srv.HostPort()
	r := hosttest.RunHost(t, "-e", hosttest.PluginSO(t), "-o", fmt.Sprintf("websocket_go://%s:%d/path", host, port),
		"-p", "format=json_lines", "-i", reference.Chunk())
	r.RequireOK(t)
	if reg := r.Registration(t); reg.Flags&32 == 0 {
		t.Errorf("registered without FLB_OUTPUT_NET: %+v", reg)
	}
	msgs := srv.WaitMessages(1, 5*time.Second)
	if want := readReference(t, "formats/json_lines.double.date"); !bytes.Equal(msgs[0].Data, want) {
		t.Errorf("payload differs from json_lines.double.date")
	}
}

// A Fluent Bit that does not export flb_output_net_default: the plugin
// says so, tells the user to put the URL in URI, and that form works.
func TestEndpointWithoutCoreSymbols(t *testing.T) {
	conf := hosttest.WriteConfig(t, "path.conf", "[OUTPUT]\n    Name websocket_go\n    Match *\n    Host 127.0.0.1\n    URI /x\n")
	r := hosttest.RunHost(t, "--hide-symbols", "-e", hosttest.PluginSO(t), "-c", conf)
	r.RequireOK(t)
	if r.CountLogs("warn", "cannot read Host and Port") == 0 || r.CountLogs("warn", "'URI ws://host:port/path'") == 0 {
		t.Errorf("no warning about the unreadable endpoint\n%s", r.Dump())
	}

	srv := wstest.StartWSServer(t, wstest.WSOptions{Path: "/x"})
	conf = hosttest.WriteConfig(t, "url.conf", fmt.Sprintf("[OUTPUT]\n    Name websocket_go\n    Match *\n    URI %s\n", srv.URL()))
	r = hosttest.RunHost(t, "--hide-symbols", "-e", hosttest.PluginSO(t), "-c", conf, "-i", reference.Chunk())
	r.RequireOK(t)
	if r.CountLogs("warn", "cannot read Host and Port") > 0 {
		t.Errorf("a warning although URI holds the whole URL\n%s", r.Dump())
	}
	if m := srv.WaitMessages(1, 5*time.Second); !m[0].Binary || !bytes.Equal(m[0].Data, readReference(t, "formats/input.msgpack")) {
		t.Errorf("msgpack payload is not the chunk as it was")
	}
}

// A Host in the config that contradicts the URL in URI stops Fluent Bit at
// start, naming both keys.
func TestConflictingEndpointStopsInit(t *testing.T) {
	conf := hosttest.WriteConfig(t, "fluent-bit.conf", `[OUTPUT]
    Name websocket_go
    Match *
    Host 127.0.0.2
    URI  ws://127.0.0.1:9/x
`)
	r := hosttest.RunHost(t, "-e", hosttest.PluginSO(t), "-c", conf)
	if r.ExitCode != 255 || r.CountLogs("error", "keys 'host' and 'uri' conflict") == 0 {
		t.Fatalf("exit %d\n%s", r.ExitCode, r.Dump())
	}
}

// Fluent Bit keeps tls and tls.* for itself, as the README says. `tls on`
// stops Fluent Bit at start in every release, before any record goes out:
// 4.0.3 and later stop on it themselves ("does not support TLS"), older
// ones only log that and run the instance without TLS, so the plugin,
// which finds the key as written, refuses to start. `tls off` and tls.*
// change nothing: a warning names the ws_tls key of each, and the records
// go out over ws:// as configured.
func TestTLSKeysAreFluentBits(t *testing.T) {
	for _, v := range flbVersions {
		t.Run(v, func(t *testing.T) {
			t.Parallel()
			srv := wstest.StartWSServer(t, wstest.WSOptions{Path: "/x"})
			conf := hosttest.WriteConfig(t, "fluent-bit.conf", "[OUTPUT]\n    Name websocket_go\n    Match *\n    URI "+srv.URL()+"\n    tls on\n")
			r := hosttest.RunHost(t, "--flb-version", v, "-e", hosttest.PluginSO(t), "-c", conf, "-i", reference.Chunk())
			stops := r.ExitCode == 1 || // the core
				r.ExitCode == 255 && r.CountLogs("error", "for key 'tls': Fluent Bit's TLS does not apply to this plugin") == 1
			if !stops || !strings.Contains(r.Stderr, "support TLS") || srv.Handshakes() != 0 {
				t.Errorf("tls on: exit %d, %d handshakes; want Fluent Bit's 'support TLS' and a stop before any connection\n%s", r.ExitCode, srv.Handshakes(), r.Dump())
			}

			r = hosttest.RunHost(t, "--flb-version", v, "-e", hosttest.PluginSO(t), "-o", "websocket_go", "-p", "uri="+srv.URL(),
				"-p", "tls=off", "-p", "tls.verify=off", "-p", "tls.ca_file=/nonexistent/ca.pem", "-p", "tls.debug=4", "-i", reference.Chunk())
			r.RequireOK(t)
			srv.WaitMessages(1, 5*time.Second)
			if r.CountLogs("warn", "'tls.verify' is Fluent Bit's and does nothing for this plugin: use 'ws_tls.verify'") != 1 ||
				r.CountLogs("warn", "'tls.ca_file' is Fluent Bit's") != 1 || r.CountLogs("warn", "'tls.debug' is Fluent Bit's") != 1 ||
				r.CountLogs("warn", "") != 3 || r.CountLogs("info", "tls verify") != 0 {
				t.Errorf("tls.*: want one warning each and nothing else\n%s", r.Dump())
			}
		})
	}
}

// Every bad value stops Fluent Bit at start (exit 255) with a line naming
// the key, the value and what is allowed.
func TestBadValueStopsInit(t *testing.T) {
	tests := []struct{ key, value, allowed string }{
		{"format", "xml", "json_lines"},
		{"json_date_format", "unix", "java_sql_timestamp"},
		{"idle_interval", "soon", "seconds"},
		{"compress", "maybe", "on, off"},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			r := hosttest.RunHost(t, "-e", hosttest.PluginSO(t), "-o", "websocket_go", "-p", tt.key+"="+tt.value)
			if r.ExitCode != 255 {
				t.Fatalf("exit %d, want 255\n%s", r.ExitCode, r.Dump())
			}
			if r.CountLogs("error", "'"+tt.key+"'") == 0 || r.CountLogs("error", strconv.Quote(tt.value)) == 0 || r.CountLogs("error", tt.allowed) == 0 {
				t.Errorf("no error line naming %s, %q and %q\n%s", tt.key, tt.value, tt.allowed, r.Dump())
			}
		})
	}
}

// Built as `websocket` in a Fluent Bit that has the built-in websocket
// output, the plugin warns that the built-in will be used.
func TestNameClashWarning(t *testing.T) {
	so := filepath.Join(t.TempDir(), "out_websocket.so")
	build := exec.Command("go", "build", "-buildmode=c-shared", "-ldflags", "-X main.pluginName=websocket", "-o", so, ".")
	build.Dir = hosttest.RepoRoot
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	tests := []struct {
		name, so, builtin string
		warn              bool
	}{
		{"websocket with the built-in", so, "websocket", true},
		{"websocket without the built-in", so, "", false},
		{"websocket_go with the built-in", hosttest.PluginSO(t), "websocket", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := []string{"-e", tt.so}
			if tt.builtin != "" {
				args = append(args, "--builtin", tt.builtin)
			}
			r := hosttest.RunHost(t, args...)
			if got := r.CountLogs("warn", "built-in output named") > 0; got != tt.warn {
				t.Fatalf("warning %v, want %v\n%s", got, tt.warn, r.Dump())
			}
		})
	}
}

// Log lines look like Fluent Bit's: its timestamp and level, then
// [output:<plugin>:<instance or alias>], honouring Log_Level.
func TestLogLines(t *testing.T) {
	srv := wstest.StartWSServer(t, wstest.WSOptions{})
	tests := []struct {
		name, extra, prefix string
		info, debug         bool
	}{
		{"default", "", "[output:websocket_go:websocket_go.0] ", true, false},
		{"alias", "Alias to_ws\n", "[output:websocket_go:to_ws] ", true, false},
		{"log_level warn", "Log_Level warn\n", "", false, false},
		{"log_level debug", "Log_Level debug\n", "[output:websocket_go:websocket_go.0] ", true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conf := hosttest.WriteConfig(t, "fluent-bit.conf", fmt.Sprintf("[OUTPUT]\n    Name websocket_go\n    Match *\n    URI %s\n    %s", srv.URL(), tt.extra))
			r := hosttest.RunHost(t, "-e", hosttest.PluginSO(t), "-c", conf, "-i", reference.Chunk())
			r.RequireOK(t)
			var info, debug bool
			for _, l := range r.LogLines() {
				if !strings.HasPrefix(l.Message, "[output:websocket_go") {
					continue
				}
				if tt.prefix != "" && !strings.HasPrefix(l.Message, tt.prefix) {
					t.Errorf("line %q does not start with %q", l.Raw, tt.prefix)
				}
				info = info || l.Level == "info"
				debug = debug || l.Level == "debug"
			}
			if info != tt.info || debug != tt.debug {
				t.Errorf("info lines %v (want %v), debug lines %v (want %v)\n%s", info, tt.info, debug, tt.debug, r.Dump())
			}
		})
	}
}

// Several [OUTPUT] sections of the plugin, Workers 2 each: every instance
// sends its own format to its own server, nothing crosses over.
func TestInstancesAreIndependent(t *testing.T) {
	bin := wstest.StartWSServer(t, wstest.WSOptions{Path: "/bin"})
	text := wstest.StartWSServer(t, wstest.WSOptions{Path: "/text"})
	conf := hosttest.WriteConfig(t, "fluent-bit.conf", fmt.Sprintf(`[OUTPUT]
    Name    websocket_go
    Match   *
    URI     %s
    Workers 2

[OUTPUT]
    Name    websocket_go
    Match   *
    URI     %s
    Format  json_lines
    Workers 2
`, bin.URL(), text.URL()))
	const chunks, perChunk = 8, 50
	var stream [][]byte
	for i := 0; i < chunks; i++ {
		stream = append(stream, chunktest.SampleChunk(perChunk, int64(i)))
	}
	r := hosttest.RunHost(t, "-e", hosttest.PluginSO(t), "-c", conf, "-I", hosttest.WriteChunks(t, "chunks.bin", stream...))
	r.RequireOK(t)
	for _, name := range []string{"websocket_go.0", "websocket_go.1"} {
		if s := r.Summary(t, name); s.OK != chunks {
			t.Errorf("%s: %+v", name, s)
		}
	}
	for _, m := range bin.WaitMessages(chunks, 5*time.Second) {
		if !m.Binary {
			t.Fatalf("a text message reached the msgpack instance's server")
		}
	}
	lines := 0
	for _, m := range text.WaitMessages(chunks, 5*time.Second) {
		if m.Binary {
			t.Fatalf("a binary message reached the json_lines instance's server")
		}
		lines += bytes.Count(m.Data, []byte("\n"))
	}
	if lines != chunks*perChunk {
		t.Errorf("json_lines server got %d records, want %d", lines, chunks*perChunk)
	}
}

// After a hot reload (exit all, register and init again) the instances
// deliver again, on a new connection, and the old one was closed.
func TestHotReload(t *testing.T) {
	srv := wstest.StartWSServer(t, wstest.WSOptions{})
	conf := hosttest.WriteConfig(t, "fluent-bit.conf", strings.Replace(builtinExample(srv.HostPort()), "/something", "/", 1))
	chunk := reference.Chunk()
	r := hosttest.RunHost(t, "--reload-after", "2", "-e", hosttest.PluginSO(t), "-c", conf, "-i", chunk, "-i", chunk, "-i", chunk, "-i", chunk)
	r.RequireOK(t)
	if s := r.Summary(t, "websocket_go.0"); r.Reloads != 1 || s.OK != 4 {
		t.Fatalf("%d reloads, summary %+v\n%s", r.Reloads, s, r.Dump())
	}
	msgs := srv.WaitMessages(4, 5*time.Second)
	if srv.Handshakes() != 2 || msgs[0].Conn == msgs[3].Conn {
		t.Errorf("%d handshakes; first and last chunk on connections %d and %d", srv.Handshakes(), msgs[0].Conn, msgs[3].Conn)
	}
}
