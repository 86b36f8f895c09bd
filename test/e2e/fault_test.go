package e2e

// Fault tests: the plugin inside the test host, with Fluent Bit's retry
// rules (Retry_Limit no_limits, short retry waits), against a server that
// crashes, restarts, drops or closes connections, stops reading, refuses
// handshakes or presents bad certificates, and with chunks that are empty,
// huge or malformed. Every record carries a sequence number (seq_test.go);
// each case ends with every record delivered at least once, every message
// parsing in its format, and logs duplicates, retries and reconnects.

import (
	"crypto/tls"
	"encoding/binary"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/out-websocket/out_websocket/internal/hosttest"
	"github.com/out-websocket/out_websocket/internal/wstest"
)

// Retry timing for the host: the first retry after 50 ms, doubling up to
// 500 ms (Fluent Bit: 5 s base, 2000 s cap, with jitter).
var faultRetryArgs = []string{"--retry-wait", "50", "--retry-cap", "500"}

// faultOutput is one [OUTPUT] section of the plugin with unlimited retries.
func faultOutput(url, format, match string, workers int, extra ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "[OUTPUT]\n    Name        websocket_go\n    Match       %s\n    URI         %s\n    Format      %s\n    Workers     %d\n    Retry_Limit no_limits\n",
		match, url, format, workers)
	for _, e := range extra {
		fmt.Fprintf(&b, "    %s\n", e)
	}
	return b.String()
}

// faultArgs runs the plugin on conf with the fault retry timing; more
// arguments (-t, -I ...) follow.
func faultArgs(t testing.TB, conf string, more ...string) []string {
	args := append([]string{"-e", hosttest.PluginSO(t), "-c", conf}, faultRetryArgs...)
	return append(args, more...)
}

// requireDelivered checks the run as every fault case must end: the host
// exited 0, the instance returned OK once for every chunk and never ERROR
// nor dropped one, and the server holds every record lo..hi-1 at least
// once, each message parsing in format. It logs retries, reconnects and
// duplicates.
func requireDelivered(t *testing.T, r hosttest.HostResult, instance string, chunks int, srv *wstest.WSServer, format string, lo, hi int) *seqTally {
	t.Helper()
	r.RequireOK(t)
	s := r.Summary(t, instance)
	if s.OK != chunks || s.Dropped != 0 || s.Errors != 0 {
		t.Errorf("%s: summary %+v, want ok %d, no drops, no errors\n%s", instance, s, chunks, tail(r.Stderr, 40))
	}
	// A chunk the plugin returned OK for was written to the socket, so the
	// server has read it by the time it is stopped.
	srv.Stop(1000)
	tally := checkSeq(srv.Messages(), format, lo, hi)
	tally.requireAll(t, instance)
	t.Logf("%s: %d chunks, %d flushes, %d retried, max_inflight %d; %d handshakes; %v",
		instance, s.Chunks, s.Flushes, s.Retried, s.MaxInflight, srv.Handshakes(), r.Duration.Round(time.Millisecond))
	if t.Failed() {
		t.Logf("host log tail:\n%s", tail(r.Stderr, 30))
	}
	return tally
}

// requireDeliveredCrash is requireDelivered for a server that crashed
// (through px), throwing away what its socket buffers held: the plugin
// counts a chunk sent only once the server answered a ping sent after it,
// so every record must still arrive, at least once.
func requireDeliveredCrash(t *testing.T, r hosttest.HostResult, instance string, chunks int, srv *wstest.WSServer, px *crashProxy, format string, records int) {
	t.Helper()
	r.RequireOK(t)
	s := r.Summary(t, instance)
	if s.OK != chunks || s.Dropped != 0 || s.Errors != 0 {
		t.Errorf("%s: summary %+v, want ok %d, no drops, no errors\n%s", instance, s, chunks, tail(r.Stderr, 40))
	}
	px.Close()
	srv.Stop(1000)
	tally := checkSeq(srv.Messages(), format, 0, records)
	for _, b := range tally.Bad {
		t.Errorf("%s: %s", instance, b)
	}
	lost, cut := px.Lost()
	t.Logf("%s: %d messages, %d records (%d expected), %d duplicates; %d crashes took %d bytes from %d connections",
		instance, tally.Messages, tally.Records, records, tally.Duplicates(), px.Crashes(), lost, cut)
	if missing := tally.Missing(); len(missing) > 0 {
		t.Errorf("%s: NOT AT-LEAST-ONCE: %d records lost in the crashes, though the plugin returned FLB_OK for them: %s",
			instance, len(missing), seqRanges(missing))
	}
	t.Logf("%s: %d chunks, %d flushes, %d retried, max_inflight %d; %d handshakes; %v",
		instance, s.Chunks, s.Flushes, s.Retried, s.MaxInflight, srv.Handshakes(), r.Duration.Round(time.Millisecond))
	if t.Failed() {
		t.Logf("host log tail:\n%s", tail(r.Stderr, 30))
	}
}

// crashProxy stands between the plugin and a wstest.WSServer and plays a server
// that crashes. It reads what the plugin sends into a queue (256 KB at
// most) that it forwards to the server, as a server reads into its own
// buffers. Crash ends every connection with a reset, as the kernel of a
// killed server does, and counts the bytes the plugin had sent that never
// reached the server: the queue, and all that was on its way (in either
// kernel's socket buffers), which it takes in while the host is held
// still with SIGSTOP, so that none escapes the count. What it forwarded
// before reaches the server whole.
type crashProxy struct {
	t      testing.TB
	target string // the wstest.WSServer's host:port
	path   string
	addr   string

	host *hosttest.RunningHost // held still during a crash (Hold)

	mu      sync.Mutex
	ln      net.Listener
	conns   map[*proxyConn]struct{}
	lost    int // bytes discarded by crashes
	cut     int // connections a crash ended
	crashes int
}

type proxyConn struct {
	client, server *net.TCPConn

	mu      sync.Mutex
	cond    *sync.Cond
	queue   [][]byte // read from the plugin, not yet forwarded
	queued  int      // bytes in queue
	eof     bool     // the plugin ended its side
	crashed bool
	lost    int

	read, written chan struct{} // closed when upRead, upWrite end
}

func startCrashProxy(t testing.TB, srv *wstest.WSServer) *crashProxy {
	t.Helper()
	u, err := url.Parse(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	p := &crashProxy{t: t, target: u.Host, path: u.Path, addr: "127.0.0.1:0", conns: map[*proxyConn]struct{}{}}
	p.Restart()
	t.Cleanup(p.Close)
	return p
}

// URL is the ws:// URL the plugin is to use.
func (p *crashProxy) URL() string { return "ws://" + p.addr + p.path }

// Hold names the host to stop (SIGSTOP) while a crash takes in what the
// plugin had sent; without it a crash can lose bytes it does not count.
func (p *crashProxy) Hold(h *hosttest.RunningHost) { p.host = h }

// proxyQueueMax bounds what the proxy reads ahead of the server.
const proxyQueueMax = 256 << 10

// Restart listens again (on the same port) after Crash(true).
func (p *crashProxy) Restart() {
	p.t.Helper()
	ln, err := wstest.Listen(p.addr)
	if err != nil {
		p.t.Fatalf("crashProxy: listen on %s: %v", p.addr, err)
	}
	p.mu.Lock()
	p.addr, p.ln = ln.Addr().String(), ln
	p.mu.Unlock()
	go p.accept(ln)
}

func (p *crashProxy) accept(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		pc := &proxyConn{client: c.(*net.TCPConn), server: s.(*net.TCPConn),
			read: make(chan struct{}), written: make(chan struct{})}
		pc.cond = sync.NewCond(&pc.mu)
		p.mu.Lock()
		p.conns[pc] = struct{}{}
		p.mu.Unlock()
		go pc.upRead()
		go pc.upWrite()
		go pc.down()
	}
}

// upRead queues what the plugin sends. After a crash it takes all that is
// on its way (until 10 ms pass without a byte, 3 s at most), counting it
// lost, then resets the plugin's connection.
func (pc *proxyConn) upRead() {
	defer close(pc.read)
	for {
		pc.mu.Lock()
		for pc.queued >= proxyQueueMax && !pc.crashed {
			pc.cond.Wait()
		}
		crashed := pc.crashed
		pc.mu.Unlock()
		if crashed {
			break
		}
		buf := make([]byte, 64<<10)
		n, err := pc.client.Read(buf)
		pc.mu.Lock()
		if pc.crashed {
			pc.lost += n
			pc.mu.Unlock()
			break
		}
		if n > 0 {
			pc.queue = append(pc.queue, buf[:n])
			pc.queued += n
		}
		pc.eof = err != nil
		pc.cond.Broadcast()
		pc.mu.Unlock()
		if err != nil {
			return
		}
	}
	buf := make([]byte, 64<<10)
	for start := time.Now(); time.Since(start) < 3*time.Second; {
		pc.client.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
		n, err := pc.client.Read(buf)
		pc.mu.Lock()
		pc.lost += n
		pc.mu.Unlock()
		if err != nil {
			break
		}
	}
	pc.client.SetLinger(0)
	pc.client.Close()
}

// upWrite forwards the queue to the server, then the plugin's end; after a
// crash what is left in the queue is lost.
func (pc *proxyConn) upWrite() {
	defer close(pc.written)
	defer pc.server.CloseWrite()
	for {
		pc.mu.Lock()
		for len(pc.queue) == 0 && !pc.eof && !pc.crashed {
			pc.cond.Wait()
		}
		if pc.crashed {
			for _, b := range pc.queue {
				pc.lost += len(b)
			}
			pc.queue = nil
			pc.mu.Unlock()
			return
		}
		if len(pc.queue) == 0 {
			pc.mu.Unlock()
			return
		}
		b := pc.queue[0]
		pc.queue = pc.queue[1:]
		pc.queued -= len(b)
		pc.cond.Broadcast()
		pc.mu.Unlock()
		if _, err := pc.server.Write(b); err != nil {
			return
		}
	}
}

// down forwards what the server sends, and its end.
func (pc *proxyConn) down() {
	if _, err := io.Copy(pc.client, pc.server); err != nil {
		io.Copy(io.Discard, pc.server)
	}
	pc.client.CloseWrite()
	pc.server.Close()
}

// Crash ends every connection; with stop it also stops listening until
// Restart (a killed server), else new connections are accepted (a server
// that drops its connections).
func (p *crashProxy) Crash(stop bool) {
	p.mu.Lock()
	if stop && p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	conns := p.conns
	p.conns = map[*proxyConn]struct{}{}
	p.crashes++
	p.mu.Unlock()
	if p.host != nil {
		p.host.Signal(syscall.SIGSTOP)
		defer p.host.Signal(syscall.SIGCONT)
	}
	for pc := range conns {
		pc.mu.Lock()
		pc.crashed = true
		pc.cond.Broadcast()
		pc.mu.Unlock()
		pc.client.SetReadDeadline(time.Now())
	}
	for pc := range conns {
		<-pc.read
		<-pc.written
		pc.mu.Lock()
		lost := pc.lost
		pc.mu.Unlock()
		p.mu.Lock()
		p.lost += lost
		p.cut++
		p.mu.Unlock()
	}
}

// Close stops listening and waits until every connection has passed on
// what the plugin sent and its end (the host exited).
func (p *crashProxy) Close() {
	p.mu.Lock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	conns := p.conns
	p.mu.Unlock()
	for pc := range conns {
		select {
		case <-pc.written:
		case <-time.After(5 * time.Second):
			pc.client.Close()
			<-pc.written
		}
	}
}

// Lost is the bytes the crashes discarded and the connections they ended.
func (p *crashProxy) Lost() (bytes, conns int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lost, p.cut
}

// Crashes counts Crash calls.
func (p *crashProxy) Crashes() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.crashes
}

// waitMessagesOrExit waits until srv has read n messages; false when the
// host ended first or the time ran out.
func waitMessagesOrExit(h *hosttest.RunningHost, srv *wstest.WSServer, n int, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for srv.MessageCount() < n {
		select {
		case <-h.Done():
			return srv.MessageCount() >= n
		case <-time.After(time.Millisecond):
		}
		if time.Now().After(deadline) {
			return false
		}
	}
	return true
}

// tail is the last n lines of a log.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = append([]string{fmt.Sprintf("... (%d lines before)", len(lines)-n)}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}

// startCrashStream starts a server behind a crash proxy and the host
// streaming records of 100 bytes, perChunk a chunk, to it in format with 2
// workers; it returns them and the number of chunks.
func startCrashStream(t *testing.T, format string, records, perChunk int) (*wstest.WSServer, *crashProxy, *hosttest.RunningHost, int) {
	t.Helper()
	srv := wstest.StartWSServer(t, wstest.WSOptions{})
	px := startCrashProxy(t, srv)
	conf := hosttest.WriteConfig(t, "fluent-bit.conf", faultOutput(px.URL(), format, "*", 2))
	chunks := seqChunks(0, records, perChunk, seqSpec{LogLen: 100})
	h := hosttest.StartHost(t, hosttest.HostOptions{Timeout: 60 * time.Second}, faultArgs(t, conf, "-I", hosttest.WriteChunks(t, "chunks.bin", chunks...))...)
	px.Hold(h)
	return srv, px, h, len(chunks)
}

// The server is killed (every connection ended at once, no close frame,
// what its sockets held is lost) and restarted on the same port, twice,
// while the host streams chunks.
func TestFaultServerRestart(t *testing.T) {
	t.Parallel()
	for _, format := range []string{"msgpack", "json_lines"} {
		t.Run(format, func(t *testing.T) {
			const records, perChunk = 30_000, 20
			srv, px, h, chunks := startCrashStream(t, format, records, perChunk)
			for i := 0; i < 2; i++ {
				if !waitMessagesOrExit(h, srv, srv.MessageCount()+50, 20*time.Second) {
					t.Fatalf("the stream ended before crash %d", i+1)
				}
				px.Crash(true)
				time.Sleep(300 * time.Millisecond)
				px.Restart()
			}
			r := h.Wait()
			requireDeliveredCrash(t, r, "websocket_go.0", chunks, srv, px, format, records)
		})
	}
}

// The server drops every TCP connection (no close frame, what it held is
// lost) after every 25th message it read.
func TestFaultServerDropsConnections(t *testing.T) {
	t.Parallel()
	for _, format := range []string{"json_lines", "msgpack"} {
		t.Run(format, func(t *testing.T) {
			const records, perChunk, every = 6_000, 5, 25
			srv, px, h, chunks := startCrashStream(t, format, records, perChunk)
			stop := make(chan struct{})
			dropped := make(chan struct{})
			go func() {
				defer close(dropped)
				for next := every; ; {
					select {
					case <-stop:
						return
					case <-time.After(time.Millisecond):
					}
					if srv.MessageCount() >= next {
						px.Crash(false)
						next = srv.MessageCount() + every
					}
				}
			}()
			r := h.Wait()
			close(stop)
			<-dropped
			requireDeliveredCrash(t, r, "websocket_go.0", chunks, srv, px, format, records)
			if px.Crashes() == 0 {
				t.Errorf("the server never dropped a connection")
			}
		})
	}
}

// The server closes the connection with 1001 (going away) after every 5th
// message, reading what the client sent before its close.
func TestFaultServerClosesConnections(t *testing.T) {
	t.Parallel()
	for _, format := range []string{"msgpack", "json"} {
		t.Run(format, func(t *testing.T) {
			const records, perChunk = 4_000, 20
			srv := wstest.StartWSServer(t, wstest.WSOptions{CloseEvery: 5, CloseCode: 1001})
			conf := hosttest.WriteConfig(t, "fluent-bit.conf", faultOutput(srv.URL(), format, "*", 2))
			chunks := seqChunks(0, records, perChunk, seqSpec{LogLen: 100})
			r := hosttest.RunHostWith(t, hosttest.HostOptions{Timeout: 60 * time.Second}, faultArgs(t, conf, "-I", hosttest.WriteChunks(t, "chunks.bin", chunks...))...)
			requireDelivered(t, r, "websocket_go.0", len(chunks), srv, format, 0, records)
			if srv.Handshakes() < 2 {
				t.Errorf("%d handshakes: the closes were not seen", srv.Handshakes())
			}
		})
	}
}

// The server stops reading for longer than write_timeout once the first
// message arrived: the blocked write times out, the chunk is retried, and
// what the server had buffered is still read afterwards.
func TestFaultServerStopsReading(t *testing.T) {
	t.Parallel()
	const records, perChunk = 64, 2 // 32 chunks of 2 MB: more than the socket buffers hold
	const stall = 2500 * time.Millisecond
	srv := wstest.StartWSServer(t, wstest.WSOptions{StallFor: stall})
	conf := hosttest.WriteConfig(t, "fluent-bit.conf", faultOutput(srv.URL(), "msgpack", "*", 1, "write_timeout 1"))
	chunks := seqChunks(0, records, perChunk, seqSpec{LogLen: 1 << 20})
	start := time.Now()
	r := hosttest.RunHostWith(t, hosttest.HostOptions{Timeout: 60 * time.Second}, faultArgs(t, conf, "-I", hosttest.WriteChunks(t, "chunks.bin", chunks...))...)
	// The host may be done (the rest went on a new connection) before the
	// stalled server reads what the first connection holds.
	time.Sleep(time.Until(start.Add(stall + 500*time.Millisecond)))
	requireDelivered(t, r, "websocket_go.0", len(chunks), srv, "msgpack", 0, records)
	if s := r.Summary(t, "websocket_go.0"); s.Retried == 0 || r.CountLogs("warn", "timeout") == 0 {
		t.Errorf("no write timeout seen: %+v\n%s", s, tail(r.Stderr, 30))
	}
}

// The server is down when the host starts and comes up later; then one
// that refuses handshakes with 503 for a while before accepting.
func TestFaultServerUnavailable(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, format string
		refuse       bool
	}{
		{"down at start", "json_lines", false},
		{"503 then accepted", "msgpack", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const records, perChunk = 2_000, 20
			opts := wstest.WSOptions{}
			if tc.refuse {
				opts.Status = 503
			}
			srv := wstest.StartWSServer(t, opts)
			if !tc.refuse {
				srv.Stop(0) // keeps its port for Start
			}
			conf := hosttest.WriteConfig(t, "fluent-bit.conf", faultOutput(srv.URL(), tc.format, "*", 2))
			chunks := seqChunks(0, records, perChunk, seqSpec{LogLen: 100})
			h := hosttest.StartHost(t, hosttest.HostOptions{Timeout: 60 * time.Second}, faultArgs(t, conf, "-I", hosttest.WriteChunks(t, "chunks.bin", chunks...))...)
			if !h.WaitFor("failed to flush chunk", 10*time.Second) {
				t.Fatalf("no retry while the server is unavailable")
			}
			time.Sleep(time.Second)
			if tc.refuse {
				srv.SetStatus(0)
			} else {
				srv.Start()
			}
			r := h.Wait()
			requireDelivered(t, r, "websocket_go.0", len(chunks), srv, tc.format, 0, records)
			want := "connect to"
			if tc.refuse {
				want = "503"
			}
			if r.CountLogs("warn", want) == 0 {
				t.Errorf("no warning naming the failure (%q)\n%s", want, tail(r.Stderr, 30))
			}
		})
	}
}

// Four [OUTPUT] instances with Workers 4 each, 100,000 records each, all at
// once: every message parses (no frames of two flushes interleaved) and
// each server gets exactly its instance's records (distinct tags, formats
// and sequence ranges).
func TestFaultInstancesWorkers(t *testing.T) {
	t.Parallel()
	const instances, records, perChunk = 4, 100_000, 500
	formats := []string{"msgpack", "json", "json_lines", "json_stream"}
	var conf strings.Builder
	var srvs []*wstest.WSServer
	var args []string
	nchunks := 0
	for i := 0; i < instances; i++ {
		srv := wstest.StartWSServer(t, wstest.WSOptions{Path: fmt.Sprintf("/i%d", i)})
		srvs = append(srvs, srv)
		conf.WriteString(faultOutput(srv.URL(), formats[i], fmt.Sprintf("tag%d", i), 4) + "\n")
		chunks := seqChunks(i*1_000_000, records, perChunk, seqSpec{LogLen: 60})
		nchunks = len(chunks)
		args = append(args, "-t", fmt.Sprintf("tag%d", i), "-I", hosttest.WriteChunks(t, fmt.Sprintf("chunks%d.bin", i), chunks...))
	}
	path := hosttest.WriteConfig(t, "fluent-bit.conf", conf.String())
	r := hosttest.RunHostWith(t, hosttest.HostOptions{Timeout: 90 * time.Second}, faultArgs(t, path, args...)...)
	for i, srv := range srvs {
		name := fmt.Sprintf("websocket_go.%d", i)
		requireDelivered(t, r, name, nchunks, srv, formats[i], i*1_000_000, i*1_000_000+records)
		if s := r.Summary(t, name); s.MaxInflight < 2 {
			t.Logf("%s: flushes never overlapped (max_inflight %d)", name, s.MaxInflight)
		}
	}
}

// Records of 0 bytes (an empty body map) and of 10 MB, a chunk of 50 MB,
// and a chunk of 1,000,000 tiny records.
func TestFaultRecordSizes(t *testing.T) {
	t.Parallel()
	type part struct {
		n    int
		spec seqSpec
	}
	for _, tc := range []struct {
		name, format string
		perChunk     int
		parts        []part
		extra        []string
	}{
		{"empty records msgpack", "msgpack", 1000, []part{{3000, seqSpec{Empty: true}}}, nil},
		{"empty records json_lines", "json_lines", 1000, []part{{3000, seqSpec{Empty: true}}}, nil},
		{"10MB records json_lines", "json_lines", 2, []part{{4, seqSpec{LogLen: 10 << 20}}}, nil},
		{"50MB chunk msgpack", "msgpack", 50, []part{{50, seqSpec{LogLen: 1 << 20}}}, nil},
		{"1M tiny records msgpack", "msgpack", 1_000_000, []part{{1_000_000, seqSpec{LogLen: 0}}}, nil},
		{"1M tiny records json_lines split", "json_lines", 1_000_000, []part{{1_000_000, seqSpec{LogLen: 0}}}, []string{"max_message_size 4M"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := wstest.StartWSServer(t, wstest.WSOptions{})
			conf := hosttest.WriteConfig(t, "fluent-bit.conf", faultOutput(srv.URL(), tc.format, "*", 1, tc.extra...))
			var chunks [][]byte
			total := 0
			for _, p := range tc.parts {
				chunks = append(chunks, seqChunks(total, p.n, tc.perChunk, p.spec)...)
				total += p.n
			}
			file := hosttest.WriteChunks(t, "chunks.bin", chunks...)
			chunks = nil
			r := hosttest.RunHostWith(t, hosttest.HostOptions{Timeout: 60 * time.Second}, faultArgs(t, conf, "-I", file)...)
			requireDelivered(t, r, "websocket_go.0", (total+tc.perChunk-1)/tc.perChunk, srv, tc.format, 0, total)
		})
	}
}

// Malformed chunks between good ones: each ends with FLB_ERROR and a log
// line saying why (the records before its broken event are sent), the host
// does not crash, the good chunks after it are delivered.
func TestFaultMalformedChunks(t *testing.T) {
	t.Parallel()
	good := func(i int) []byte { return seqChunk(i*10, 10, seqSpec{LogLen: 50}) }
	rng := mrand.New(mrand.NewPCG(1, 2))
	random := make([]byte, 4096)
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	event := seqChunk(0, 1, seqSpec{LogLen: 50})
	be32 := func(b []byte, v uint32) []byte { return binary.BigEndian.AppendUint32(b, v) }
	bad := []struct {
		name, why string
		data      []byte
	}{
		{"truncated", "string declares 50 bytes, only 43 left", good(0)[:len(good(0))-7]},
		{"random bytes", "dropping chunk of 4096 bytes", random},
		{"event is a map", "event is not a [header, body] array", append([]byte{0x81, 0xa1, 'a', 0x01}, event...)},
		{"timestamp is a string", "timestamp is not ext type 0", append([]byte{0x92, 0x92, 0xa3, 'n', 'o', 'w', 0x80, 0x80}, event...)},
		{"metadata is a string", "event metadata is not a map", append([]byte{0x92, 0x92, 0x01, 0xa1, 'x', 0x80}, event...)},
		{"huge string length", "string declares 4294967295 bytes", append(be32([]byte{0x92, 0x92, 0x01, 0x80, 0x81, 0xa3, 'l', 'o', 'g', 0xdb}, 0xffffffff), "short"...)},
		{"huge map count", "elements, only 0 bytes left", be32([]byte{0x92, 0x92, 0x01, 0x80, 0xdf}, 0xffffffff)},
	}
	for _, format := range []string{"msgpack", "json_lines"} {
		t.Run(format, func(t *testing.T) {
			srv := wstest.StartWSServer(t, wstest.WSOptions{})
			conf := hosttest.WriteConfig(t, "fluent-bit.conf", faultOutput(srv.URL(), format, "*", 0))
			var chunks [][]byte
			for i, b := range bad {
				chunks = append(chunks, good(i), b.data)
			}
			chunks = append(chunks, good(len(bad)))
			r := hosttest.RunHostWith(t, hosttest.HostOptions{Timeout: 30 * time.Second}, faultArgs(t, conf, "-I", hosttest.WriteChunks(t, "chunks.bin", chunks...))...)
			r.RequireOK(t)
			s := r.Summary(t, "websocket_go.0")
			if s.OK != len(bad)+1 || s.Errors != len(bad) || s.Retried != 0 || s.Dropped != 0 {
				t.Errorf("summary %+v, want ok %d, errors %d, nothing retried\n%s", s, len(bad)+1, len(bad), tail(r.Stderr, 30))
			}
			if n := r.CountLogs("error", "cannot be decoded"); n != len(bad) {
				t.Errorf("%d error lines say a chunk cannot be decoded, want %d\n%s", n, len(bad), tail(r.Stderr, 30))
			}
			for _, b := range bad {
				if r.CountLogs("error", b.why) == 0 {
					t.Errorf("%s: no error line saying %q\n%s", b.name, b.why, tail(r.Stderr, 30))
				}
			}
			srv.Stop(1000)
			tally := checkSeq(srv.Messages(), format, 0, (len(bad)+1)*10)
			tally.requireAll(t, "good chunks")
			// The truncated chunk's first 9 records, before its broken
			// one, are sent too: good(0)'s again.
			if tally.Duplicates() != 9 || tally.Messages != len(bad)+2 {
				t.Errorf("%d messages, %d duplicates; want one message per good chunk and one for the truncated chunk's 9 good records", tally.Messages, tally.Duplicates())
			}
		})
	}
}

// A wss:// server whose certificate is not trusted, is for another name, or
// has expired: nothing is sent, the log says what is wrong and which key
// fixes it, and the chunk is retried up to Retry_Limit, then dropped.
func TestFaultTLSCertificates(t *testing.T) {
	t.Parallel()
	ca := wstest.NewTestCA(t)
	other := wstest.NewTestCA(t)
	for _, tc := range []struct {
		name  string
		tls   *tls.Config
		caKey string
		why   string
	}{
		{"untrusted", other.ServerTLS(t, "127.0.0.1"), "", "not signed by a CA this system trusts"},
		{"untrusted with ca_file", other.ServerTLS(t, "127.0.0.1"), "ws_tls.ca_file " + ca.File, "not signed by a CA this system trusts"},
		{"wrong name", ca.ServerTLS(t, "example.com"), "ws_tls.ca_file " + ca.File, "not for this host name"},
		{"expired", ca.ServerTLSValid(t, time.Now().Add(-2*time.Hour), time.Now().Add(-time.Hour), "127.0.0.1"), "ws_tls.ca_file " + ca.File, "has expired"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := wstest.StartWSServer(t, wstest.WSOptions{TLS: tc.tls})
			extra := []string{"connect_timeout 2"}
			if tc.caKey != "" {
				extra = append(extra, tc.caKey)
			}
			conf := strings.Replace(faultOutput(srv.URL(), "json_lines", "*", 1, extra...), "Retry_Limit no_limits", "Retry_Limit 2", 1)
			path := hosttest.WriteConfig(t, "fluent-bit.conf", conf)
			const nchunks = 3
			chunks := seqChunks(0, nchunks*10, 10, seqSpec{LogLen: 50})
			r := hosttest.RunHostWith(t, hosttest.HostOptions{Timeout: 30 * time.Second}, faultArgs(t, path, "-I", hosttest.WriteChunks(t, "chunks.bin", chunks...))...)
			r.RequireOK(t)
			s := r.Summary(t, "websocket_go.0")
			if s.OK != 0 || s.Retried == 0 || s.Dropped != nchunks || s.Errors != 0 {
				t.Errorf("summary %+v, want every chunk retried, then dropped\n%s", s, tail(r.Stderr, 30))
			}
			if n := len(srv.Messages()) + srv.Handshakes(); n != 0 {
				t.Errorf("%d messages and handshakes reached a server with a bad certificate", n)
			}
			if r.CountLogs("warn", tc.why) == 0 {
				t.Errorf("no warning saying %q\n%s", tc.why, tail(r.Stderr, 30))
			}
			t.Logf("%d flushes, %d retried, %d dropped", s.Flushes, s.Retried, s.Dropped)
		})
	}
}
