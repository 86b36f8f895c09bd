package e2e

// Settings accepted at start that could never work, failures counted for
// what they are, and a slow server under ping_interval.

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/out-websocket/out_websocket/internal/hosttest"
	"github.com/out-websocket/out_websocket/internal/reference"
	"github.com/out-websocket/out_websocket/internal/wstest"
)

// A value that would break every connection stops Fluent Bit at start,
// with a line naming the key.
func TestBrokenSettingsStopInit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		keys []string
		key  string // named by the error line
	}{
		{"Connection header", []string{"uri ws://127.0.0.1:8000/", "header Connection close"}, "Connection"},
		{"Upgrade header", []string{"uri ws://127.0.0.1:8000/", "header.1 Upgrade h2c"}, "Upgrade"},
		{"Sec-WebSocket-Key header", []string{"uri ws://127.0.0.1:8000/", "header.2 Sec-WebSocket-Key abc"}, "Sec-Websocket-Key"},
		{"Sec-WebSocket-Version header", []string{"uri ws://127.0.0.1:8000/", "header.3 Sec-WebSocket-Version 8"}, "Sec-Websocket-Version"},
		{"Sec-WebSocket-Extensions header", []string{"uri ws://127.0.0.1:8000/", "header.4 Sec-WebSocket-Extensions x"}, "Sec-Websocket-Extensions"},
		{"Sec-WebSocket-Protocol header with subprotocols", []string{"uri ws://127.0.0.1:8000/", "subprotocols a", "header.5 Sec-WebSocket-Protocol b"}, "Sec-Websocket-Protocol"},
		{"port 0", []string{"uri ws://127.0.0.1:0/x"}, "'uri'"},
		{"port 99999", []string{"uri ws://127.0.0.1:99999/x"}, "'uri'"},
		// Fluent Bit's core keeps Port (atoi) and the -o form's port.
		{"Port 99999 beside Host", []string{"host example.com", "port 99999"}, "'port': allowed: 1 to 65535"},
		{"Port -1", []string{"port -1"}, "'port': allowed: 1 to 65535"},
		{"Port 65536 in -o", []string{"-o websocket_go://example.com:65536/x"}, "'port': allowed: 1 to 65535"},
		// The core makes 0 of both: the plugin reads Port as written.
		{"Port 0 beside Host", []string{"host example.com", "port 0"}, "'port': allowed: 1 to 65535"},
		{"Port abc beside Host", []string{"host example.com", "port abc"}, "'port': allowed: 1 to 65535"},
		{"ping_interval 1 µs", []string{"uri ws://127.0.0.1:8000/", "ping_interval 0.000001"}, "'ping_interval'"},
		{"bad path escape", []string{"uri /a%zz"}, "'uri'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := []string{"-e", hosttest.PluginSO(t), "-o", "websocket_go"}
			for _, kv := range tt.keys {
				k, v, _ := strings.Cut(kv, " ")
				if k == "-o" {
					args[len(args)-1] = v
					continue
				}
				args = append(args, "-p", k+"="+v)
			}
			r := hosttest.RunHost(t, args...)
			if r.ExitCode != 255 || r.CountLogs("error", tt.key) == 0 {
				t.Errorf("exit %d, want 255 and an error line naming %s\n%s", r.ExitCode, tt.key, r.Dump())
			}
		})
	}
}

// A path with escapes is sent as written (RFC 3986), its query kept, and
// a #fragment dropped with a warning.
func TestURIPathAsWritten(t *testing.T) {
	t.Parallel()
	srv := wstest.StartWSServer(t, wstest.WSOptions{Path: "/a b/c"})
	host, port := srv.HostPort()
	r := hosttest.RunPlugin(t, "-o", "websocket_go", "-p", "host="+host, "-p", fmt.Sprintf("port=%d", port),
		"-p", "uri=/a%20b/c?x=1%202#frag", "-i", reference.Chunk())
	r.RequireOK(t)
	if s := r.Summary(t, "websocket_go.0"); s.OK != 1 || len(srv.Messages()) != 1 {
		t.Errorf("not delivered to /a%%20b/c: %+v\n%s", s, r.Dump())
	}
	if r.CountLogs("warn", "fragment") != 1 {
		t.Errorf("no warning about the fragment\n%s", r.Dump())
	}
}

// A server that answers with an extension the plugin did not offer
// (permessage-deflate while compress is off, or an unknown one) fails the
// connection (RFC 6455 9.1): nothing is sent on it.
func TestUnofferedExtensionFailsHandshake(t *testing.T) {
	t.Parallel()
	for _, ext := range []string{"permessage-deflate", "x-custom; a=1"} {
		t.Run(ext, func(t *testing.T) {
			var most atomic.Int64 // bytes after the handshake, on the connection that got most
			url := wstest.RawServer(t, func(c net.Conn, br *bufio.Reader) {
				if _, err := wstest.UpgradeByHand(c, br, wstest.AcceptKey, "Sec-WebSocket-Extensions: "+ext); err != nil {
					return
				}
				n, _ := io.Copy(io.Discard, br)
				for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
				}
			})
			conf := hosttest.WriteConfig(t, "fluent-bit.conf", faultOutput(url, "json", "*", 0, "connect_timeout 2", "write_timeout 2"))
			r := hosttest.RunHost(t, "-e", hosttest.PluginSO(t), "-c", conf, "--retry-wait", "50", "--max-runtime", "2", "-i", reference.Chunk())
			// gorilla itself refuses a permessage-deflate it did not offer.
			name, _, _ := strings.Cut(ext, ";")
			if r.CountLogs("warn", fmt.Sprintf("extension %q", name))+r.CountLogs("warn", "invalid compression negotiation") == 0 {
				t.Errorf("no warning naming the extension\n%s", r.Dump())
			}
			// A close frame (8 bytes, masked, with its code) may follow the handshake; records may not.
			if n := most.Load(); n > 8 {
				t.Errorf("%d bytes sent after the handshake", n)
			}
			if s := r.Summary(t, "websocket_go.0"); s.OK != 0 {
				t.Errorf("chunk reported sent: %+v", s)
			}
		})
	}
}

// Only a failure to connect makes the plugin back off and say that the
// server cannot be reached; an outage is logged once and its end once; a
// chunk with an undecodable event still delivers the records before it.
func TestFailureAccounting(t *testing.T) {
	t.Parallel()
	t.Run("confirmation fails", func(t *testing.T) {
		t.Parallel()
		// Answers the ping after the handshake, then no other.
		srv := wstest.StartWSServer(t, wstest.WSOptions{Handle: func(c *wstest.Conn) {
			pinged := false
			c.SetPingHandler(func(data string) error {
				if pinged {
					return nil
				}
				pinged = true
				return c.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(time.Second))
			})
			c.ReadMessages()
		}})
		conf := hosttest.WriteConfig(t, "fluent-bit.conf", faultOutput(srv.URL(), "json_lines", "*", 0, "write_timeout 0.3"))
		chunks := seqChunks(0, 4, 1, seqSpec{LogLen: 10})
		r := hosttest.RunHost(t, faultArgs(t, conf, "--log-level", "debug", "--max-runtime", "4", "-I", hosttest.WriteChunks(t, "chunks.bin", chunks...))...)
		if r.CountLogs("warn", "not confirmed") == 0 {
			t.Errorf("no warning saying the delivery was not confirmed")
		}
		if n := r.CountLogs("warn", "cannot reach"); n != 0 {
			t.Errorf("%d lines say the server cannot be reached; it answered every handshake", n)
		}
		if n := strings.Count(r.Stderr, errServerDownText); n != 0 {
			t.Errorf("%d flushes failed at once without trying the server", n)
		}
		if t.Failed() {
			t.Log(tail(r.Stderr, 40))
		}
	})
	t.Run("503 for a while", func(t *testing.T) {
		t.Parallel()
		srv := wstest.StartWSServer(t, wstest.WSOptions{Status: 503})
		conf := hosttest.WriteConfig(t, "fluent-bit.conf", faultOutput(srv.URL(), "json_lines", "*", 2))
		chunks := seqChunks(0, 200, 10, seqSpec{LogLen: 10})
		h := hosttest.StartHost(t, hosttest.HostOptions{Timeout: 30 * time.Second}, faultArgs(t, conf, "-I", hosttest.WriteChunks(t, "chunks.bin", chunks...))...)
		time.Sleep(3 * time.Second)
		srv.SetStatus(0)
		r := h.Wait()
		requireDelivered(t, r, "websocket_go.0", len(chunks), srv, "json_lines", 0, 200)
		if n := r.CountLogs("warn", "[output:websocket_go"); n != 1 || r.CountLogs("warn", "HTTP 503") != 1 {
			t.Errorf("%d warnings from the plugin, want one, naming the 503\n%s", n, tail(r.Stderr, 40))
		}
		if n := r.CountLogs("info", "reachable again"); n != 1 {
			t.Errorf("the end of the outage logged %d times, want once", n)
		}
	})
	t.Run("undecodable event", func(t *testing.T) {
		t.Parallel()
		srv := wstest.StartWSServer(t, wstest.WSOptions{})
		chunk := append(seqChunk(0, 5, seqSpec{LogLen: 10}), 0xc1, 0x00)
		r := hosttest.RunPlugin(t, "-o", "websocket_go", "-p", "uri="+srv.URL(), "-p", "format=json_lines", "-i", hosttest.WriteFile(t, "bad.msgpack", chunk))
		r.RequireOK(t)
		srv.Stop(1000)
		checkSeq(srv.Messages(), "json_lines", 0, 5).requireAll(t, "websocket_go.0")
		if s := r.Summary(t, "websocket_go.0"); s.Errors != 1 {
			t.Errorf("summary %+v, want the chunk reported an error", s)
		}
		if r.CountLogs("error", "sent its first 5 records") != 1 {
			t.Errorf("no error line with the count and the offset\n%s", r.Dump())
		}
	})
}

// A server that never answers pings is found by the ping after the
// handshake, before any chunk is written: one warning names confirm_delivery
// off as the fix, the attempts count as connection failures and back off,
// and no chunk is sent, let alone resent without end. With confirm_delivery
// off the same server gets every chunk once.
func TestServerNeverPongs(t *testing.T) {
	t.Parallel()
	chunks := seqChunks(0, 4, 1, seqSpec{LogLen: 10})
	t.Run("confirm_delivery on", func(t *testing.T) {
		t.Parallel()
		srv := wstest.StartWSServer(t, wstest.WSOptions{NoPong: true})
		conf := hosttest.WriteConfig(t, "fluent-bit.conf", faultOutput(srv.URL(), "json_lines", "*", 0, "ping_timeout 0.3"))
		r := hosttest.RunHost(t, faultArgs(t, conf, "--log-level", "debug", "--max-runtime", "4", "-I", hosttest.WriteChunks(t, "chunks.bin", chunks...))...)
		if n := srv.MessageCount(); n != 0 {
			t.Errorf("%d messages reached a server that never answers pings, want none", n)
		}
		if n := r.CountLogs("warn", "set confirm_delivery off"); n != 1 {
			t.Errorf("%d warnings name confirm_delivery off as the fix, want one", n)
		}
		if n := r.CountLogs("warn", "not confirmed"); n != 0 {
			t.Errorf("%d chunks were written and not confirmed, want none", n)
		}
		// Backoff: attempts 50 ms to 30 s apart, each 0.3 s long, in 4 s.
		failed := r.Metric(t, "websocket_go.0", "fluentbit_websocket_connect_failures_total").Value
		opened := r.Metric(t, "websocket_go.0", "fluentbit_websocket_handshakes_total").Value
		lost := r.Metric(t, "websocket_go.0", "fluentbit_websocket_connections_lost_total", "cause", "ping_timeout").Value
		// The last attempt may be cut by the host's exit, which counts as
		// neither a failure nor a loss.
		h := srv.Handshakes()
		if h == 0 || h > 12 || int(opened) != h || int(failed) < h-1 || int(failed) > h || lost != failed {
			t.Errorf("%d handshakes; counted %v handshakes, %v connection failures, %v lost for ping_timeout: want as many each (but the last, cut), at least 1, and backoff to keep them few", h, opened, failed, lost)
		}
		if t.Failed() {
			t.Log(tail(r.Stderr, 40))
		}
	})
	t.Run("confirm_delivery off", func(t *testing.T) {
		t.Parallel()
		srv := wstest.StartWSServer(t, wstest.WSOptions{NoPong: true})
		conf := hosttest.WriteConfig(t, "fluent-bit.conf", faultOutput(srv.URL(), "json_lines", "*", 0, "ping_timeout 0.3", "confirm_delivery off"))
		r := hosttest.RunHost(t, faultArgs(t, conf, "-I", hosttest.WriteChunks(t, "chunks.bin", chunks...))...)
		tally := requireDelivered(t, r, "websocket_go.0", len(chunks), srv, "json_lines", 0, 4)
		if tally.Duplicates() != 0 || r.CountLogs("warn", "") != 0 {
			t.Errorf("%d duplicates, %d warnings\n%s", tally.Duplicates(), r.CountLogs("warn", ""), tail(r.Stderr, 30))
		}
	})
}

// errServerDownText starts the error of a flush that failed at once
// because the backoff had the server down.
const errServerDownText = "server down: "

// With ping_interval, a server that reads a large chunk slowly (longer than
// ping_timeout, well within write_timeout) gets it once, on the first
// try: the keepalive counts no pong missing for a ping it could not send.
func TestSlowReadUnderPingInterval(t *testing.T) {
	t.Parallel()
	srv := wstest.StartWSServer(t, wstest.WSOptions{Handle: readSlowly(4 << 20)})
	conf := hosttest.WriteConfig(t, "fluent-bit.conf", faultOutput(srv.URL(), "msgpack", "*", 1,
		"ping_interval 0.2", "ping_timeout 0.5", "write_timeout 20"))
	chunks := seqChunks(0, 12, 12, seqSpec{LogLen: 1 << 20}) // one chunk of 12 MB: 3 s to read
	r := hosttest.RunHostWith(t, hosttest.HostOptions{Timeout: 40 * time.Second}, faultArgs(t, conf, "-I", hosttest.WriteChunks(t, "chunks.bin", chunks...))...)
	tally := requireDelivered(t, r, "websocket_go.0", 1, srv, "msgpack", 0, 12)
	if s := r.Summary(t, "websocket_go.0"); s.Retried != 0 || tally.Duplicates() != 0 {
		t.Errorf("the chunk was retried (%+v), %d duplicates\n%s", s, tally.Duplicates(), tail(r.Stderr, 30))
	}
}

// groupChunk is records first..first+n-1 inside one group whose attributes
// hold attr bytes: the JSON formats repeat the attributes in every record
// (as Fluent Bit does), so the output is n times larger than the chunk.
func groupChunk(first, n, attr int) []byte {
	b := []byte{0x92, 0x92, 0xff, 0x80, 0x81, 0xa4, 'a', 't', 't', 'r', 0xdb}
	b = binary.BigEndian.AppendUint32(b, uint32(attr))
	b = append(b, bytes.Repeat([]byte{'g'}, attr)...)
	for i := first; i < first+n; i++ {
		b = appendSeqEvent(b, i, seqSpec{LogLen: 40})
	}
	return append(b, 0x92, 0x92, 0xfe, 0x80, 0x80)
}

// gelfBomb is one record of maps nested depth deep, each under a key of
// keyLen bytes, the last holding leaves fields: GELF names each leaf by its
// whole key path, so the output is about leaves x depth x keyLen bytes.
func gelfBomb(depth, keyLen, leaves int) []byte {
	b := []byte{0x92, 0x92, 0xd7, 0x00}
	b = binary.BigEndian.AppendUint32(b, uint32(seqEpoch))
	b = binary.BigEndian.AppendUint32(b, 0)
	b = append(b, 0x80, 0x82, 0xa3, 'l', 'o', 'g', 0xa4, 'b', 'o', 'm', 'b')
	key := bytes.Repeat([]byte{'k'}, keyLen)
	for i := 0; i < depth; i++ {
		b = append(b, 0xda, byte(keyLen>>8), byte(keyLen))
		b = append(b, key...)
		if i < depth-1 {
			b = append(b, 0x81)
		}
	}
	b = append(b, 0xde, byte(leaves>>8), byte(leaves))
	for j := 0; j < leaves; j++ {
		b = append(b, 0xa5)
		b = fmt.Appendf(b, "f%04d", j)
		b = append(b, 0x01)
	}
	return b
}

// A chunk whose output is far larger than itself (group attributes
// repeated in every JSON record; a GELF record naming thousands of leaves
// by a long key path) is encoded one message at a time: the host's peak
// memory stays under a bound that the whole output would pass several
// times, every record arrives in messages within message_size_limit, and
// a record that alone would pass the limit is dropped with an error.
func TestMemoryBoundedByMessage(t *testing.T) {
	t.Parallel()
	const limit = 1 << 20
	const bound = 40 << 20 // the host with the plugin; the outputs are 64 and 100 MB
	tests := []struct {
		name, format string
		chunk        []byte
		records      int // expected at the server
		dropped      string
		key          string // the size setting
	}{
		{"json_lines, group attributes 64 KB x 1000 records", "json_lines", groupChunk(0, 1000, 64<<10), 1000, "", "message_size_limit"},
		{"json, group attributes 64 KB x 1000 records", "json", groupChunk(0, 1000, 64<<10), 1000, "", "message_size_limit"},
		{"json, group attributes, max_message_size", "json", groupChunk(0, 1000, 64<<10), 1000, "", "max_message_size"},
		{"gelf, 2000 leaves under a 50 x 1000 byte key path", "gelf", append(gelfBomb(50, 1000, 2000), seqChunk(0, 3, seqSpec{LogLen: 40})...), 3, "dropped 1 of 4 records", "message_size_limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := wstest.StartWSServer(t, wstest.WSOptions{})
			r := hosttest.RunPlugin(t, "-o", "websocket_go", "-p", "uri="+srv.URL(), "-p", "format="+tt.format,
				"-p", fmt.Sprintf("%s=%d", tt.key, limit), "-i", hosttest.WriteFile(t, "chunk.msgpack", tt.chunk))
			r.RequireOK(t)
			srv.Stop(1000)
			records := 0
			for _, m := range srv.Messages() {
				if len(m.Data) > limit {
					t.Errorf("a message of %d bytes, more than message_size_limit %d", len(m.Data), limit)
				}
				records += bytes.Count(m.Data, []byte(`seq":`))
			}
			if records != tt.records {
				t.Errorf("%d records arrived, want %d", records, tt.records)
			}
			if tt.dropped != "" && r.CountLogs("error", tt.dropped) != 1 {
				t.Errorf("no error line %q\n%s", tt.dropped, tail(r.Stderr, 20))
			}
			if r.PeakMemory > bound {
				t.Errorf("the host peaked at %d MB, more than %d MB", r.PeakMemory>>20, bound>>20)
			}
			t.Logf("%d messages, host peak %d MB", len(srv.Messages()), r.PeakMemory>>20)
		})
	}
}

// readSlowly is a server's handler that reads at about rate bytes a
// second, like a slow consumer, keeping what it reads.
func readSlowly(rate int) func(c *wstest.Conn) {
	return func(c *wstest.Conn) {
		c.SetReadLimit(64 << 20)
		for {
			typ, r, err := c.NextReader()
			if err != nil {
				return
			}
			var data bytes.Buffer
			for {
				n, err := io.CopyN(&data, r, 16<<10)
				if err == io.EOF {
					break
				}
				if err != nil {
					return
				}
				time.Sleep(time.Duration(n) * time.Second / time.Duration(rate))
			}
			c.Keep(typ, data.Bytes())
		}
	}
}

// Port 0 or not a number in a config file, classic or YAML, and among other
// outputs, stops Fluent Bit at start naming the key; so does one given
// with an Alias.
func TestPortAsWrittenStopsInit(t *testing.T) {
	t.Parallel()
	confs := map[string]string{
		"fb.conf": "[OUTPUT]\n    Name stdout\n    Match nothing\n\n[OUTPUT]\n    Name websocket_go\n    Match *\n    Host example.com\n    Port abc\n",
		"fb.yaml": "pipeline:\n  outputs:\n    - name: websocket_go\n      match: '*'\n      alias: ws\n      host: example.com\n      port: 0\n",
	}
	for name, text := range confs {
		t.Run(name, func(t *testing.T) {
			conf := hosttest.WriteConfig(t, name, text)
			r := hosttest.RunHost(t, "-e", hosttest.PluginSO(t), "-c", conf)
			if r.ExitCode != 255 || r.CountLogs("error", "'port': allowed: 1 to 65535") == 0 {
				t.Errorf("exit %d, want 255 and an error line naming port\n%s", r.ExitCode, r.Dump())
			}
		})
	}
}
