package e2e

// Upstream tests: one [OUTPUT] over an Upstream file of three in-process
// servers, in the test host: round-robin, a node killed mid-stream, every
// node down then one back, a node with a wrong certificate, and SIGTERM.

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/out-websocket/out_websocket/internal/hosttest"
	"github.com/out-websocket/out_websocket/internal/wstest"
)

// upstreamNodeSpec is one [NODE]: the server's host and port and more
// `key value` lines.
type upstreamNodeSpec struct {
	addr  string // host:port
	extra []string
}

// upstreamSetup writes an Upstream file of nodes n1, n2, ... and a config
// whose one [OUTPUT] uses it (by a relative path; TestConfExamples has one
// found next to the config from another directory), with unlimited
// retries; it returns the config's path.
func upstreamSetup(t *testing.T, nodes []upstreamNodeSpec, format string, workers int, extra ...string) string {
	t.Helper()
	var up strings.Builder
	up.WriteString("[UPSTREAM]\n    name receivers\n")
	for i, n := range nodes {
		host, port, _ := strings.Cut(n.addr, ":")
		fmt.Fprintf(&up, "\n[NODE]\n    name n%d\n    host %s\n    port %s\n", i+1, host, port)
		for _, e := range n.extra {
			fmt.Fprintf(&up, "    %s\n", e)
		}
	}
	hosttest.WriteConfig(t, "upstream.conf", up.String())
	var out strings.Builder
	fmt.Fprintf(&out, "[OUTPUT]\n    Name        websocket_go\n    Match       *\n    Upstream    upstream.conf\n    Format      %s\n    Workers     %d\n    Retry_Limit no_limits\n", format, workers)
	for _, e := range extra {
		fmt.Fprintf(&out, "    %s\n", e)
	}
	return hosttest.WriteConfig(t, "fluent-bit.conf", out.String())
}

// addrOf is a server's host:port.
func addrOf(s *wstest.WSServer) string {
	host, port := s.HostPort()
	return fmt.Sprintf("%s:%d", host, port)
}

// startNodes starts n servers and gives the [NODE]s for them.
func startNodes(t *testing.T, n int) ([]*wstest.WSServer, []upstreamNodeSpec) {
	var srvs []*wstest.WSServer
	var nodes []upstreamNodeSpec
	for range n {
		s := wstest.StartWSServer(t, wstest.WSOptions{})
		srvs = append(srvs, s)
		nodes = append(nodes, upstreamNodeSpec{addr: addrOf(s)})
	}
	return srvs, nodes
}

// allMessages is what every server read.
func allMessages(srvs ...*wstest.WSServer) []wstest.WSMessage {
	var all []wstest.WSMessage
	for _, s := range srvs {
		all = append(all, s.Messages()...)
	}
	return all
}

// sendAllOnce runs conf over json_lines chunks of records 0 to records-1,
// which no node fails: every chunk must be OK at once, and every record
// reach the servers (stopped after the run) exactly once.
func sendAllOnce(t *testing.T, conf string, chunks [][]byte, records int, srvs []*wstest.WSServer) hosttest.HostResult {
	t.Helper()
	r := hosttest.RunHostWith(t, hosttest.HostOptions{Timeout: 60 * time.Second}, faultArgs(t, conf, "-I", hosttest.WriteChunks(t, "chunks.bin", chunks...))...)
	r.RequireOK(t)
	if s := r.Summary(t, "websocket_go.0"); s.OK != len(chunks) || s.Retried != 0 || s.Dropped != 0 {
		t.Errorf("summary %+v, want every chunk OK at once", s)
	}
	for _, srv := range srvs {
		srv.Stop(1000)
	}
	tally := checkSeq(allMessages(srvs...), "json_lines", 0, records)
	tally.requireAll(t, "the nodes")
	if d := tally.Duplicates(); d != 0 {
		t.Errorf("%d records twice, though no node failed", d)
	}
	return r
}

// wantLogs fails the test unless n log lines of level contain text.
func wantLogs(t *testing.T, r hosttest.HostResult, level, text string, n int) {
	t.Helper()
	if got := r.CountLogs(level, text); got != n {
		t.Errorf("%d %s lines with %q, want %d\n%s", got, level, text, n, tail(r.Stderr, 30))
	}
}

// Workers 3 over three nodes: each flush starts at the next node, so every
// server gets connections and chunks, every record arrives once, and the
// connection metrics are counted per node.
func TestUpstreamRoundRobin(t *testing.T) {
	t.Parallel()
	const records, perChunk = 3_000, 10
	srvs, nodes := startNodes(t, 3)
	conf := upstreamSetup(t, nodes, "json_lines", 3)
	chunks := seqChunks(0, records, perChunk, seqSpec{LogLen: 50})
	r := sendAllOnce(t, conf, chunks, records, srvs)
	handshakes := 0.0
	for i, srv := range srvs {
		node := fmt.Sprintf("n%d", i+1)
		n := len(srv.Messages())
		// Round-robin per flush: a third of the chunks each, give or take
		// what the overlap of 3 workers shifts.
		if n < len(chunks)/6 || srv.Handshakes() == 0 {
			t.Errorf("node %s got %d of %d chunks on %d connections", node, n, len(chunks), srv.Handshakes())
		}
		h := r.Metric(t, "websocket_go.0", "fluentbit_websocket_handshakes_total", "node", node).Value
		if int(h) != srv.Handshakes() {
			t.Errorf("handshakes_total{node=%s} = %v, the server saw %d", node, h, srv.Handshakes())
		}
		handshakes += h
		t.Logf("node %s: %d chunks, %d connections", node, n, srv.Handshakes())
	}
	if c := r.Metric(t, "websocket_go.0", "fluentbit_websocket_confirmations_total").Value; int(c) != len(chunks) {
		t.Errorf("confirmations_total = %v, want %d", c, len(chunks))
	}
	if !strings.Contains(r.Stderr, "upstream receivers (") {
		t.Errorf("the startup line does not name the upstream\n%s", tail(r.Stderr, 20))
	}
}

// A node is killed mid-stream (its connections reset, what its sockets
// held lost, its port closed): the flushes it failed go, whole, to the
// other nodes within the same flush, none returns RETRY, every record
// arrives, and the log says once that the node is down, naming it.
func TestUpstreamNodeKilled(t *testing.T) {
	t.Parallel()
	for _, format := range []string{"msgpack", "json_lines"} {
		t.Run(format, func(t *testing.T) {
			const records, perChunk = 20_000, 20
			var srvs []*wstest.WSServer
			for range 3 {
				srvs = append(srvs, wstest.StartWSServer(t, wstest.WSOptions{}))
			}
			px := startCrashProxy(t, srvs[1])
			pxHost := strings.TrimPrefix(strings.TrimSuffix(px.URL(), "/"), "ws://")
			nodes := []upstreamNodeSpec{{addr: addrOf(srvs[0])}, {addr: pxHost}, {addr: addrOf(srvs[2])}}
			conf := upstreamSetup(t, nodes, format, 2)
			chunks := seqChunks(0, records, perChunk, seqSpec{LogLen: 100})
			h := hosttest.StartHost(t, hosttest.HostOptions{Timeout: 60 * time.Second}, faultArgs(t, conf, "-I", hosttest.WriteChunks(t, "chunks.bin", chunks...))...)
			px.Hold(h)
			if !waitMessagesOrExit(h, srvs[1], 50, 20*time.Second) {
				t.Fatalf("the stream ended before node n2 got 50 chunks")
			}
			px.Crash(true)
			atKill := []int{srvs[0].MessageCount(), srvs[2].MessageCount()}
			r := h.Wait()
			r.RequireOK(t)
			s := r.Summary(t, "websocket_go.0")
			if s.OK != len(chunks) || s.Retried != 0 || s.Dropped != 0 {
				t.Errorf("summary %+v, want every chunk OK without a retry", s)
			}
			px.Close()
			for _, srv := range srvs {
				srv.Stop(1000)
			}
			tally := checkSeq(allMessages(srvs...), format, 0, records)
			tally.requireAll(t, "a node killed")
			lost, cut := px.Lost()
			t.Logf("%d records, %d duplicates; the kill took %d bytes from %d connections; n1 %d->%d, n3 %d->%d chunks",
				tally.Records, tally.Duplicates(), lost, cut, atKill[0], srvs[0].MessageCount(), atKill[1], srvs[2].MessageCount())
			if srvs[0].MessageCount() == atKill[0] || srvs[2].MessageCount() == atKill[1] {
				t.Errorf("the other nodes did not take the killed node's share")
			}
			wantLogs(t, r, "warn", "cannot reach ws://"+pxHost+"/ (node n2)", 1)
			wantLogs(t, r, "warn", "cannot reach", 1)
			// The kill shows in n2's connection series only.
			for _, node := range []string{"n1", "n2", "n3"} {
				lost := r.Metric(t, "websocket_go.0", "fluentbit_websocket_connections_lost_total", "node", node, "cause", "network_error").Value
				failed := r.Metric(t, "websocket_go.0", "fluentbit_websocket_connect_failures_total", "node", node).Value
				if killed := node == "n2"; killed != (lost > 0) || killed != (failed > 0) {
					t.Errorf("node %s: %v connections lost, %v connect failures", node, lost, failed)
				}
			}
		})
	}
}

// Every node is down at start: flushes return RETRY, the log says once per
// node that it is down; one node comes back: delivery resumes there, and
// the log says once that it is back.
func TestUpstreamAllDownOneBack(t *testing.T) {
	t.Parallel()
	const records, perChunk = 1_000, 20
	srvs, nodes := startNodes(t, 3)
	for _, s := range srvs {
		s.Stop(0) // keeps its port for Start
	}
	conf := upstreamSetup(t, nodes, "json_lines", 2)
	chunks := seqChunks(0, records, perChunk, seqSpec{LogLen: 50})
	h := hosttest.StartHost(t, hosttest.HostOptions{Timeout: 60 * time.Second}, faultArgs(t, conf, "-I", hosttest.WriteChunks(t, "chunks.bin", chunks...))...)
	if !h.WaitFor("failed to flush chunk", 10*time.Second) {
		t.Fatalf("no RETRY while every node is down")
	}
	time.Sleep(time.Second)
	srvs[1].Start()
	r := h.Wait()
	requireDelivered(t, r, "websocket_go.0", len(chunks), srvs[1], "json_lines", 0, records)
	for i, srv := range srvs {
		wantLogs(t, r, "warn", fmt.Sprintf("cannot reach ws://%s/ (node n%d)", addrOf(srv), i+1), 1)
	}
	wantLogs(t, r, "info", "(node n2) is reachable again", 1)
	wantLogs(t, r, "info", "is reachable again", 1)
}

// Per-node keys over the [OUTPUT]'s: n1 a whole wss:// URL and a header of
// its own, n2 ws_tls on with a path and its own bearer_token, n3 a server
// whose certificate no configured CA signed. n3 is skipped with a warning
// naming it and the certificate problem; n1 and n2 take every chunk, with
// their own headers, and no flush fails.
func TestUpstreamNodeKeysAndWrongCertificate(t *testing.T) {
	t.Parallel()
	const records, perChunk = 600, 10
	ca, other := wstest.NewTestCA(t), wstest.NewTestCA(t)
	good1 := wstest.StartWSServer(t, wstest.WSOptions{TLS: ca.ServerTLS(t, "127.0.0.1"), Path: "/one"})
	good2 := wstest.StartWSServer(t, wstest.WSOptions{TLS: ca.ServerTLS(t, "127.0.0.1"), Path: "/two"})
	bad := wstest.StartWSServer(t, wstest.WSOptions{TLS: other.ServerTLS(t, "127.0.0.1")})
	nodes := []upstreamNodeSpec{
		{addr: addrOf(good1), extra: []string{"uri " + good1.URL(), "header.1 X-Node one"}},
		{addr: addrOf(good2), extra: []string{"ws_tls on", "uri /two", "bearer_token node-two-token"}},
		{addr: addrOf(bad), extra: []string{"ws_tls on"}},
	}
	conf := upstreamSetup(t, nodes, "json_lines", 1, "ws_tls.ca_file "+ca.File, "bearer_token output-token", "connect_timeout 2")
	chunks := seqChunks(0, records, perChunk, seqSpec{LogLen: 50})
	r := hosttest.RunHostWith(t, hosttest.HostOptions{Timeout: 60 * time.Second}, faultArgs(t, conf, "-I", hosttest.WriteChunks(t, "chunks.bin", chunks...))...)
	r.RequireOK(t)
	s := r.Summary(t, "websocket_go.0")
	if s.OK != len(chunks) || s.Retried != 0 || s.Dropped != 0 {
		t.Errorf("summary %+v, want every chunk OK without a retry\n%s", s, tail(r.Stderr, 30))
	}
	good1.Stop(1000)
	good2.Stop(1000)
	checkSeq(allMessages(good1, good2), "json_lines", 0, records).requireAll(t, "n1 and n2")
	if n := len(bad.Messages()) + bad.Handshakes(); n != 0 {
		t.Errorf("%d messages and handshakes reached the node with a wrong certificate", n)
	}
	wantLogs(t, r, "warn", "(node n3): connect to", 1)
	wantLogs(t, r, "warn", "not signed by a CA this system trusts", 1)
	for _, c := range []struct {
		srv                *wstest.WSServer
		name, header, want string
	}{
		{good1, "n1", "X-Node", "one"},
		{good1, "n1", "Authorization", "Bearer output-token"},
		{good2, "n2", "Authorization", "Bearer node-two-token"},
	} {
		hs := c.srv.Headers()
		if len(hs) == 0 || hs[0].Get(c.header) != c.want {
			t.Errorf("node %s: header %s, want %q; handshakes' headers %v", c.name, c.header, c.want, hs)
		}
	}
	if strings.Contains(r.Stderr, "node-two-token") || strings.Contains(r.Stderr, "output-token") {
		t.Errorf("a token reached the log")
	}
}

// SIGTERM while every node hangs (the handshake never answered): the host
// still exits within Grace + 1 s; the instance says once that it stops,
// and a node cut for making no progress says so once at most.
func TestUpstreamShutdownWithinGrace(t *testing.T) {
	t.Parallel()
	const grace = 5 * time.Second
	var nodes []upstreamNodeSpec
	var busy []<-chan struct{}
	for range 3 {
		url, took := hangingServer(t, false)
		nodes = append(nodes, upstreamNodeSpec{addr: strings.TrimSuffix(strings.TrimPrefix(url, "ws://"), "/")})
		busy = append(busy, took)
	}
	conf := upstreamSetup(t, nodes, "msgpack", 2, "connect_timeout 1")
	chunks := seqChunks(0, 32, 4, seqSpec{LogLen: 1 << 20})
	h := hosttest.StartHost(t, hosttest.HostOptions{Timeout: 60 * time.Second}, faultArgs(t, conf, "-I", hosttest.WriteChunks(t, "chunks.bin", chunks...))...)
	for _, b := range busy {
		select {
		case <-b:
		case <-time.After(15 * time.Second):
			t.Fatalf("the plugin never tried every node")
		}
	}
	r, _ := stopWithin(t, h, grace)
	if s := r.Summary(t, "websocket_go.0"); s.OK != 0 {
		t.Errorf("%d chunks reported OK that no node read: %+v", s.OK, s)
	}
	wantLogs(t, r, "info", "Fluent Bit is stopping", 1)
	for _, n := range nodes {
		if c := r.CountLogs("info", "no progress to ws://"+n.addr+"/"); c > 1 {
			t.Errorf("node %s said %d times it was cut", n.addr, c)
		}
	}
}

// Upstream as Fluent Bit users write it (out_forward, out_es): the nodes
// give host and port, the [OUTPUT] the URI, and other keys, every node's
// unless it sets its own; Host and Port beside Upstream are ignored with
// one warning. Every record arrives once, at every node.
func TestUpstreamWithOutputURI(t *testing.T) {
	t.Parallel()
	const records, perChunk = 600, 10
	var srvs []*wstest.WSServer
	var nodes []upstreamNodeSpec
	for i := range 3 {
		path, extra := "/ingest", []string(nil)
		if i == 2 {
			path, extra = "/own", []string{"uri /own"}
		}
		s := wstest.StartWSServer(t, wstest.WSOptions{Path: path})
		srvs = append(srvs, s)
		nodes = append(nodes, upstreamNodeSpec{addr: addrOf(s), extra: extra})
	}
	conf := upstreamSetup(t, nodes, "json_lines", 2, "URI /ingest", "Host example.com", "Port 8080", "header.1 X-Tenant fleet")
	r := sendAllOnce(t, conf, seqChunks(0, records, perChunk, seqSpec{LogLen: 20}), records, srvs)
	for i, srv := range srvs {
		h := srv.Headers()
		if len(srv.Messages()) == 0 || len(h) == 0 || h[0].Get("X-Tenant") != "fleet" {
			t.Errorf("node n%d: %d chunks, headers %v", i+1, len(srv.Messages()), h)
		}
	}
	wantLogs(t, r, "warn", "Host and Port (or the host:port of -o) are ignored with 'upstream'", 1)
}

// An upstream that could never work stops Fluent Bit at start (exit 255)
// with a line naming the node, its place in the file and the key, never a
// secret.
func TestUpstreamBadConfigStopsInit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		extra  []string // [OUTPUT] lines
		node   []string // the node's lines
		want   string
		wantAt bool // the line names the node and its place
	}{
		{"full URL in the output", []string{"URI ws://127.0.0.1:1/x"}, nil, "allowed with 'upstream': a path such as /logs", false},
		{"Port out of range in the output", []string{"Port 99999"}, nil, "key 'port': allowed: 1 to 65535", false},
		{"tls in a node", nil, []string{"tls on"}, "use 'ws_tls'", true},
		{"output key in a node", nil, []string{"Format json"}, "'format' cannot be set per node", true},
		{"bad header in a node", nil, []string{"header.1 Authorization:SECRET"}, "'header.1'", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conf := upstreamSetup(t, []upstreamNodeSpec{{addr: closedPort(t), extra: tt.node}}, "json", 0, tt.extra...)
			r := hosttest.RunHost(t, "-e", hosttest.PluginSO(t), "-c", conf)
			if r.ExitCode != 255 || r.CountLogs("error", tt.want) != 1 {
				t.Fatalf("exit %d, want 255 and an error saying %q\n%s", r.ExitCode, tt.want, r.Dump())
			}
			if tt.wantAt && r.CountLogs("error", "upstream node 'n1' (") != 1 {
				t.Errorf("the error does not name node n1 and its place\n%s", r.Stderr)
			}
			if strings.Contains(r.Stderr, "SECRET") {
				t.Errorf("a secret reached the log\n%s", r.Stderr)
			}
		})
	}
}

// A node's credentials (userinfo and query of its uri, bearer_token,
// http_passwd) never reach the log, though the node is named in every
// line about it.
func TestUpstreamSecretsNeverLogged(t *testing.T) {
	t.Parallel()
	srv := wstest.StartWSServer(t, wstest.WSOptions{})
	down := closedPort(t)
	nodes := []upstreamNodeSpec{
		{addr: down, extra: []string{"uri ws://user:SECRET1@" + down + "/x?token=SECRET2", "header.1 X-Api-Key SECRET3"}},
		{addr: addrOf(srv), extra: []string{"http_user u", "http_passwd SECRET4"}},
	}
	conf := upstreamSetup(t, nodes, "json_lines", 1, "bearer_token SECRET5")
	chunks := seqChunks(0, 40, 10, seqSpec{LogLen: 20})
	r := hosttest.RunHostWith(t, hosttest.HostOptions{Timeout: 30 * time.Second},
		faultArgs(t, conf, "--log-level", "debug", "-I", hosttest.WriteChunks(t, "chunks.bin", chunks...))...)
	r.RequireOK(t)
	if s := r.Summary(t, "websocket_go.0"); s.OK != len(chunks) || s.Retried != 0 {
		t.Errorf("summary %+v, want every chunk OK on node n2", s)
	}
	wantLogs(t, r, "warn", "cannot reach ws://"+down+"/x?token=xxxxx (node n1)", 1)
	if strings.Contains(r.Stderr, "SECRET") {
		t.Errorf("a secret reached the log:\n%s", r.Stderr)
	}
	if got := srv.Headers()[0].Get("Authorization"); !strings.HasPrefix(got, "Basic ") {
		t.Errorf("node n2 sent Authorization %q, want its own Basic credentials over the output's bearer_token", got)
	}
}

// A hot reload makes the instance again: it reads the upstream file again
// (found as at start), and its nodes take the chunks after the reload.
func TestUpstreamHotReload(t *testing.T) {
	t.Parallel()
	const chunks, perChunk = 6, 10
	srvs, nodes := startNodes(t, 2)
	conf := upstreamSetup(t, nodes, "json_lines", 0)
	in := hosttest.WriteChunks(t, "chunks.bin", seqChunks(0, chunks*perChunk, perChunk, seqSpec{LogLen: 20})...)
	r := hosttest.RunHost(t, "-e", hosttest.PluginSO(t), "-c", conf, "--reload-after", "3", "-I", in)
	r.RequireOK(t)
	if s := r.Summary(t, "websocket_go.0"); r.Reloads != 1 || s.OK != chunks || s.Retried != 0 {
		t.Fatalf("%d reloads, summary %+v\n%s", r.Reloads, s, r.Dump())
	}
	wantLogs(t, r, "info", "upstream receivers (", 2) // the startup line of each pipeline
	for i := range srvs {
		node := fmt.Sprintf("n%d", i+1)
		if h := r.Metric(t, "websocket_go.0", "fluentbit_websocket_handshakes_total", "node", node).Value; h != 1 {
			t.Errorf("after the reload, handshakes_total{node=%s} = %v, want 1", node, h)
		}
	}
	checkSeq(allMessages(srvs...), "json_lines", 0, chunks*perChunk).requireAll(t, "a hot reload")
}
