package main

import (
	"bufio"
	"encoding/hex"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// pythonServer is a WebSocket server written by others, not in Go:
// Python's websockets (Debian's python3-websockets). It pings every 50 ms,
// drops a client whose pong is 200 ms late, closes with 1007 on a TEXT
// frame that is not UTF-8, and prints what it receives, one line each.
const pythonServer = `
import asyncio, sys, websockets

conns = 0

async def handler(ws):
    global conns
    conns += 1
    n = conns
    try:
        async for m in ws:
            if isinstance(m, str):
                print("conn", n, "text", m, flush=True)
            else:
                print("conn", n, "binary", m.hex(), flush=True)
    finally:
        print("conn", n, "closed", ws.close_code, ws.subprotocol, flush=True)

async def main():
    async with websockets.serve(handler, "127.0.0.1", 0, compression=sys.argv[1] or None,
                                subprotocols=["fluent.v1"], ping_interval=0.05, ping_timeout=0.2,
                                max_size=None) as server:
        print("port", server.sockets[0].getsockname()[1], flush=True)
        await asyncio.sleep(30)

asyncio.run(main())
`

// startPythonServer runs pythonServer and returns its port and its lines.
// Without python3-websockets the test fails: CI installs it.
func startPythonServer(t *testing.T, compression string) (string, <-chan string) {
	const python = "/usr/bin/python3"
	if out, err := exec.Command(python, "-c", "import websockets").CombinedOutput(); err != nil {
		t.Fatalf("%s cannot import websockets (apt-get install python3-websockets): %v\n%s", python, err, out)
	}
	cmd := exec.Command(python, "-c", pythonServer, compression)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("python server stderr:\n%s", stderr.String())
		}
	})
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	port := strings.TrimPrefix(nextLine(t, lines), "port ")
	return port, lines
}

func nextLine(t *testing.T, lines <-chan string) string {
	t.Helper()
	select {
	case l, ok := <-lines:
		if !ok {
			t.Fatal("the python server exited")
		}
		return l
	case <-time.After(testTimeout):
		t.Fatal("the python server said nothing")
	}
	return ""
}

// TestClientPythonServer talks to an implementation we did not write: a
// subprotocol, TEXT and BINARY frames, its pings answered while idle (it
// would drop us otherwise), and a close 1000 at the end.
func TestClientPythonServer(t *testing.T) {
	msgpack := []byte("\x92\xd7\x00\x65\x00\x00\x00\x00\x00\x00\x00\x81\xa3log\xc4\x02\xff\xfe")
	for _, compression := range []string{"", "deflate"} {
		t.Run("compression="+compression, func(t *testing.T) {
			port, lines := startPythonServer(t, compression)
			cfg := testConfig("ws://127.0.0.1:" + port + "/logs")
			cfg.Subprotocols, cfg.RequireSubprotocol = []string{"fluent.v1"}, true
			cfg.Compression = compression != ""
			c, _ := newTestClient(t, cfg)

			steps := []struct {
				msg  []byte
				typ  int
				want string
			}{
				{[]byte(`{"log":"héllo ☃"}`), websocket.TextMessage, `conn 1 text {"log":"héllo ☃"}`},
				{msgpack, websocket.BinaryMessage, "conn 1 binary " + hex.EncodeToString(msgpack)},
				{[]byte(`{"after":"idle"}`), websocket.TextMessage, `conn 1 text {"after":"idle"}`},
			}
			for i, s := range steps {
				if i == 2 {
					// Several ping intervals and more than one ping timeout.
					time.Sleep(400 * time.Millisecond)
				}
				if err := c.Send(s.typ, each([][]byte{s.msg})); err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
				if got := nextLine(t, lines); got != s.want {
					t.Fatalf("step %d: server printed %q, want %q", i, got, s.want)
				}
			}
			c.Close()
			if got := nextLine(t, lines); got != "conn 1 closed 1000 fluent.v1" {
				t.Fatalf("server printed %q, want a close 1000 on connection 1", got)
			}
		})
	}
}
