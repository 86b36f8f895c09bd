package e2e

// The plugin in every Fluent Bit release the test host can play
// (--flb-version, see test/flbhost/README.md and docs/fluent-bit-versions.md):
// the essential cases of the suite under each, and the plugin's metrics.

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/out-websocket/out_websocket/internal/hosttest"
	"github.com/out-websocket/out_websocket/internal/reference"
	"github.com/out-websocket/out_websocket/internal/wstest"
)

// flbVersions are the host's profiles, oldest first.
var flbVersions = []string{"1.9", "2.0", "2.2", "3.2", "4.0", "5.1"}

// Properties of a release, as the host plays it.
func hasHotReload(v string) bool { return v != "1.9" && v != "2.0" }
func hasMetrics(v string) bool   { return v != "1.9" }

// hasHistogram: the cmetrics of 2.x copies labelled histograms into the
// metrics endpoint wrongly (before 0.7.3), so the plugin registers none.
func hasHistogram(v string) bool { return hasMetrics(v) && v != "2.0" && v != "2.2" }

// chunkSpec is the chunks the release hands a plugin: events without
// metadata, [time, body], before 2.1.
func chunkSpec(v string, logLen int) seqSpec {
	return seqSpec{LogLen: logLen, Legacy: v == "1.9" || v == "2.0"}
}

// hasLogAPI: the api's log_print and output_log_check, and with them the
// instance's own Log_Level, came in 2.0.
func hasLogAPI(v string) bool { return v != "1.9" }

// reloadRefusesFlush: 2.2's proxy returns FLB_RETRY for every flush while a
// hot reload tears the old pipeline down, without calling the plugin.
func reloadRefusesFlush(v string) bool { return v == "2.2" }

func TestVersions(t *testing.T) {
	for _, v := range flbVersions {
		t.Run(v, func(t *testing.T) {
			t.Parallel()
			ver := []string{"--flb-version", v, "-e", hosttest.PluginSO(t)}
			t.Run("seed config", func(t *testing.T) { versionSeedConfig(t, v, ver) })
			t.Run("formats", func(t *testing.T) { versionFormats(t, ver) })
			t.Run("server restarts", func(t *testing.T) { versionServerRestarts(t, v, ver) })
			t.Run("workers 2", func(t *testing.T) { versionWorkers(t, v, ver) })
			t.Run("upstream", func(t *testing.T) { versionUpstream(t, v, ver) })
			t.Run("log_level", func(t *testing.T) { versionLogLevel(t, v, ver) })
			if hasHotReload(v) {
				t.Run("hot reload", func(t *testing.T) { versionHotReload(t, v, ver) })
			}
		})
	}
}

// The built-in's documented example: Host and Port read from the core, the
// payload byte for byte Fluent Bit's JSON; metrics where the release has
// them, one info line where it has not. The run, for more checks.
func versionSeedConfig(t *testing.T, v string, ver []string) hosttest.HostResult {
	srv := wstest.StartWSServer(t, wstest.WSOptions{Path: "/something"})
	conf := hosttest.WriteConfig(t, "fluent-bit.conf", builtinExample(srv.HostPort()))
	r := hosttest.RunHost(t, append(ver, "-c", conf, "-i", reference.Chunk())...)
	r.RequireOK(t)
	if s := r.Summary(t, "websocket_go.0"); s.OK != 1 || s.Retried != 0 {
		t.Fatalf("summary %+v\n%s", s, r.Dump())
	}
	msgs := srv.WaitMessages(1, 5*time.Second)
	if !bytes.Equal(msgs[0].Data, readReference(t, "formats/json.double.date")) {
		t.Errorf("payload differs from json.double.date")
	}
	without := r.CountLogs("info", "running without metrics")
	if hasMetrics(v) {
		if without != 0 {
			t.Errorf("%s has metrics, yet the plugin runs without\n%s", v, r.Dump())
		}
		if m := r.Metric(t, "websocket_go.0", "fluentbit_websocket_confirmations_total"); m.Value != 1 {
			t.Errorf("confirmations %v, want 1", m.Value)
		}
		histograms := 0
		for _, s := range r.Metrics[0].Series {
			if s.Type == "histogram" {
				histograms++
			}
		}
		if noHistogram := r.CountLogs("info", "no confirmation round-trip histogram"); hasHistogram(v) != (histograms == 1) || hasHistogram(v) == (noHistogram == 1) {
			t.Errorf("%d histograms, %d lines saying there is none\n%s", histograms, noHistogram, r.Dump())
		}
	} else if without != 1 || len(r.Metrics) != 0 {
		t.Errorf("%d 'running without metrics' lines (want 1), %d metric dumps (want 0)\n%s", without, len(r.Metrics), r.Dump())
	}
	return r
}

// Every format, one instance each, in one run.
func versionFormats(t *testing.T, ver []string) {
	formats := []struct{ format, reference string }{
		{"msgpack", "formats/input.msgpack"},
		{"json", "formats/json.double.date"},
		{"json_stream", "formats/json_stream.double.date"},
		{"json_lines", "formats/json_lines.double.date"},
		{"gelf", ""},
	}
	var conf strings.Builder
	servers := map[string]*wstest.WSServer{}
	for _, f := range formats {
		servers[f.format] = wstest.StartWSServer(t, wstest.WSOptions{})
		fmt.Fprintf(&conf, "[OUTPUT]\n    Name websocket_go\n    Match *\n    URI %s\n    Format %s\n    gelf_short_message_key msg\n\n",
			servers[f.format].URL(), f.format)
	}
	r := hosttest.RunHost(t, append(ver, "-c", hosttest.WriteConfig(t, "fluent-bit.conf", conf.String()), "-i", reference.Chunk())...)
	r.RequireOK(t)
	for i, f := range formats {
		if s := r.Summary(t, fmt.Sprintf("websocket_go.%d", i)); s.OK != 1 {
			t.Errorf("%s: summary %+v", f.format, s)
		}
		m := servers[f.format].WaitMessages(1, 5*time.Second)
		switch {
		case m[0].Binary != (f.format == "msgpack"):
			t.Errorf("%s: binary frame %v", f.format, m[0].Binary)
		case f.reference != "" && !bytes.Equal(m[0].Data, readReference(t, f.reference)):
			t.Errorf("%s: payload differs from %s", f.format, f.reference)
		case f.reference == "" && !bytes.HasPrefix(m[0].Data, []byte(`{"version":"1.1"`)):
			t.Errorf("%s: payload %.80q", f.format, m[0].Data)
		}
		// 1.9 calls ExitCtx for one instance only; Unregister closes the rest.
		if code, ok := servers[f.format].WaitCloseCode(1, 2*time.Second); !ok || code != websocket.CloseNormalClosure {
			t.Errorf("%s: close frame %d (sent: %v), want 1000 at exit", f.format, code, ok)
		}
	}
}

// The server restarts twice while chunks stream: nothing is lost, and the
// metrics count three handshakes and two lost connections.
func versionServerRestarts(t *testing.T, v string, ver []string) {
	const chunks, perChunk = 1500, 5
	srv := wstest.StartWSServer(t, wstest.WSOptions{})
	in := hosttest.WriteChunks(t, "chunks.bin", seqChunks(0, chunks*perChunk, perChunk, chunkSpec(v, 40))...)
	h := hosttest.StartHost(t, hosttest.HostOptions{Timeout: 60 * time.Second}, append(ver, "-o", "websocket_go", "-p", "uri="+srv.URL(),
		"-p", "format=json_lines", "-p", "retry_limit=no_limits", "--retry-wait", "50", "--retry-cap", "200", "-I", in)...)
	for i := 0; i < 2; i++ {
		if !waitMessagesOrExit(h, srv, srv.MessageCount()+20, 20*time.Second) {
			t.Fatalf("the stream ended before restart %d: make it longer", i+1)
		}
		srv.Stop(websocket.CloseGoingAway)
		time.Sleep(150 * time.Millisecond)
		srv.Start()
	}
	r := h.Wait()
	r.RequireOK(t)
	if s := r.Summary(t, "websocket_go.0"); s.OK != chunks || s.Dropped != 0 || s.Errors != 0 {
		t.Errorf("summary %+v, want %d ok, none dropped", s, chunks)
	}
	checkSeq(srv.Messages(), "json_lines", 0, chunks*perChunk).requireAll(t, "after two restarts")
	if !hasMetrics(v) {
		return
	}
	lost := 0.0
	for _, cause := range []string{"server_close", "network_error", "ping_timeout", "idle_replaced"} {
		lost += r.Metric(t, "websocket_go.0", "fluentbit_websocket_connections_lost_total", "cause", cause).Value
	}
	handshakes := r.Metric(t, "websocket_go.0", "fluentbit_websocket_handshakes_total").Value
	confirmed := r.Metric(t, "websocket_go.0", "fluentbit_websocket_confirmations_total").Value
	if handshakes != 3 || lost != 2 || confirmed != chunks || int(handshakes) != srv.Handshakes() {
		t.Errorf("handshakes %v (server saw %d), lost %v, confirmations %v: want 3, 2, %d", handshakes, srv.Handshakes(), lost, confirmed, chunks)
	}
	if open := r.Metric(t, "websocket_go.0", "fluentbit_websocket_connections").Value; open != 0 {
		t.Errorf("%v connections open after exit", open)
	}
}

// Workers 2: flushes overlap, every record arrives.
func versionWorkers(t *testing.T, v string, ver []string) {
	const chunks, perChunk = 40, 25
	srv := wstest.StartWSServer(t, wstest.WSOptions{})
	in := hosttest.WriteChunks(t, "chunks.bin", seqChunks(0, chunks*perChunk, perChunk, chunkSpec(v, 20))...)
	r := hosttest.RunHost(t, append(ver, "-o", "websocket_go", "-p", "uri="+srv.URL(), "-p", "workers=2", "-I", in)...)
	r.RequireOK(t)
	if s := r.Summary(t, "websocket_go.0"); s.OK != chunks || s.Retried != 0 || s.Workers != 2 {
		t.Errorf("summary %+v", s)
	}
	srv.WaitMessages(chunks, 5*time.Second)
	checkSeq(srv.Messages(), "msgpack", 0, chunks*perChunk).requireAll(t, "Workers 2")
}

// An Upstream file of two nodes: the chunks alternate between them, and
// where the release has metrics each node has its own connection series.
func versionUpstream(t *testing.T, v string, ver []string) {
	const chunks, perChunk = 10, 5
	srvs, nodes := startNodes(t, 2)
	conf := upstreamSetup(t, nodes, "msgpack", 0)
	in := hosttest.WriteChunks(t, "chunks.bin", seqChunks(0, chunks*perChunk, perChunk, chunkSpec(v, 20))...)
	r := hosttest.RunHost(t, append(ver, "-c", conf, "-I", in)...)
	r.RequireOK(t)
	if s := r.Summary(t, "websocket_go.0"); s.OK != chunks || s.Retried != 0 {
		t.Errorf("summary %+v", s)
	}
	for i, srv := range srvs {
		srv.WaitMessages(chunks/2, 5*time.Second)
		if n := len(srv.Messages()); n != chunks/2 {
			t.Errorf("node n%d got %d chunks, want %d (round-robin)", i+1, n, chunks/2)
		}
		if hasMetrics(v) {
			if h := r.Metric(t, "websocket_go.0", "fluentbit_websocket_handshakes_total", "node", fmt.Sprintf("n%d", i+1)).Value; h != 1 {
				t.Errorf("handshakes_total{node=n%d} = %v, want 1", i+1, h)
			}
		}
	}
	checkSeq(allMessages(srvs...), "msgpack", 0, chunks*perChunk).requireAll(t, "upstream")
}

// Log_Level: the instance's own from 2.0; in 1.9 a plugin can only know
// the service's.
func versionLogLevel(t *testing.T, v string, ver []string) {
	srv := wstest.StartWSServer(t, wstest.WSOptions{})
	tests := []struct {
		name, service, output string
		debug, info           bool
	}{
		{"service debug", "debug", "", true, true},
		{"service info", "info", "", false, true},
		{"output debug", "info", "debug", hasLogAPI(v), true},
		{"output warn", "info", "warn", false, !hasLogAPI(v)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conf := fmt.Sprintf("[SERVICE]\n    Log_Level %s\n[OUTPUT]\n    Name websocket_go\n    Match *\n    URI %s\n", tt.service, srv.URL())
			if tt.output != "" {
				conf += "    Log_Level " + tt.output + "\n"
			}
			r := hosttest.RunHost(t, append(ver, "-c", hosttest.WriteConfig(t, "fluent-bit.conf", conf), "-i", reference.Chunk())...)
			r.RequireOK(t)
			debug, info := r.CountLogs("debug", "[output:websocket_go:websocket_go.0] ") > 0, r.CountLogs("info", "[output:websocket_go:websocket_go.0] ") > 0
			if debug != tt.debug || info != tt.info {
				t.Errorf("debug lines %v (want %v), info lines %v (want %v)\n%s", debug, tt.debug, info, tt.info, r.Dump())
			}
		})
	}
}

// A hot reload in the release's own order, with a chunk the old pipeline
// flushes while it stops: the plugin delivers every chunk it is given.
// 2.2's proxy alone drops that chunk: it answers FLB_RETRY for it without
// calling the plugin, until the retries run out.
func versionHotReload(t *testing.T, v string, ver []string) {
	const chunks, perChunk = 6, 10
	srv := wstest.StartWSServer(t, wstest.WSOptions{})
	in := hosttest.WriteChunks(t, "chunks.bin", seqChunks(0, chunks*perChunk, perChunk, chunkSpec(v, 20))...)
	r := hosttest.RunHost(t, append(ver, "--reload-after", "3", "-o", "websocket_go", "-p", "uri="+srv.URL(), "-p", "format=json_lines", "-I", in)...)
	r.RequireOK(t)
	s := r.Summary(t, "websocket_go.0")
	if r.Reloads != 1 || len(r.Registrations) != 2 {
		t.Fatalf("%d reloads, %d registrations\n%s", r.Reloads, len(r.Registrations), r.Dump())
	}
	if len(r.Metrics) != 2 || r.Metrics[0].Generation != 0 || r.Metrics[1].Generation != 1 {
		t.Errorf("metrics dumps %+v: want one per pipeline", r.Metrics)
	}
	if reloadRefusesFlush(v) {
		// the 4th chunk, flushed by the stopping pipeline
		if s.OK != chunks-1 || s.Dropped != 1 || r.CountLogs("error", "cannot be retried") != 1 {
			t.Fatalf("summary %+v\n%s", s, r.Dump())
		}
		srv.WaitMessages(chunks-1, 5*time.Second)
		tally := checkSeq(srv.Messages(), "json_lines", 0, chunks*perChunk)
		if missing := tally.Missing(); len(missing) != perChunk || missing[0] != 3*perChunk {
			t.Errorf("missing records %v, want the 4th chunk's", missing)
		}
		return
	}
	if s.OK != chunks || s.Dropped != 0 || s.Retried != 0 {
		t.Fatalf("summary %+v\n%s", s, r.Dump())
	}
	srv.WaitMessages(chunks, 5*time.Second)
	checkSeq(srv.Messages(), "json_lines", 0, chunks*perChunk).requireAll(t, "a hot reload")
}

// Metrics of the connection's life: with idle_interval shorter than the gap
// between flushes each flush replaces the connection, and every series
// counts it.
func TestMetricsIdleReplaced(t *testing.T) {
	const chunks = 5
	srv := wstest.StartWSServer(t, wstest.WSOptions{})
	in := hosttest.WriteChunks(t, "chunks.bin", seqChunks(0, chunks*4, 4, seqSpec{LogLen: 20})...)
	r := hosttest.RunPlugin(t, "-o", "websocket_go", "-p", "uri="+srv.URL(), "-p", "idle_interval=0.000001", "-I", in)
	r.RequireOK(t)
	msgs := srv.WaitMessages(chunks, 5*time.Second)
	payload := 0
	for _, m := range msgs {
		payload += len(m.Data)
	}
	const ins = "websocket_go.0"
	want := map[string]float64{
		"fluentbit_websocket_handshakes_total":       chunks,
		"fluentbit_websocket_connect_failures_total": 0,
		"fluentbit_websocket_messages_total":         chunks,
		"fluentbit_websocket_payload_bytes_total":    float64(payload),
		"fluentbit_websocket_confirmations_total":    chunks,
		"fluentbit_websocket_connections":            0,
	}
	for name, v := range want {
		if got := r.Metric(t, ins, name).Value; got != v {
			t.Errorf("%s = %v, want %v", name, got, v)
		}
	}
	for cause, v := range map[string]float64{"idle_replaced": chunks - 1, "server_close": 0, "network_error": 0, "ping_timeout": 0} {
		if got := r.Metric(t, ins, "fluentbit_websocket_connections_lost_total", "cause", cause).Value; got != v {
			t.Errorf("lost{cause=%s} = %v, want %v", cause, got, v)
		}
	}
	if h := r.Metric(t, ins, "fluentbit_websocket_confirmation_seconds"); h.Type != "histogram" || h.Count != chunks || h.Sum <= 0 {
		t.Errorf("confirmation histogram %+v", h)
	}
}

// A Fluent Bit built without metrics: one info line, and the plugin works.
func TestMetricsMissing(t *testing.T) {
	srv := wstest.StartWSServer(t, wstest.WSOptions{})
	r := hosttest.RunPlugin(t, "--no-metrics", "-o", "websocket_go", "-p", "uri="+srv.URL(), "-i", reference.Chunk())
	r.RequireOK(t)
	if n := r.CountLogs("info", "running without metrics: this Fluent Bit has no metrics API"); n != 1 || len(r.Metrics) != 0 {
		t.Errorf("%d info lines, %d dumps\n%s", n, len(r.Metrics), r.Dump())
	}
	if s := r.Summary(t, "websocket_go.0"); s.OK != 1 {
		t.Errorf("summary %+v", s)
	}
}
