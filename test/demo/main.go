// Command demo shows out_websocket at work: it starts a WebSocket server
// that prints what it receives, runs the test host with the plugin over a
// Fluent Bit config and a chunk of sample records, and stops by itself.
package main

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/out-websocket/out_websocket/encoder"
)

func main() {
	conf := flag.String("conf", "conf/fluent-bit.conf", "Fluent Bit config the host runs")
	host := flag.String("host", "test/flbhost/flbhost", "the test host")
	plugin := flag.String("plugin", "./out_websocket.so", "the plugin")
	listen := flag.String("listen", "127.0.0.1:8700", "where the receiver listens: the Host and Port of -conf")
	records := flag.Int("records", 5, "sample records to send")
	flag.Parse()
	if err := run(*conf, *host, *plugin, *listen, *records); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run(conf, host, plugin, listen string, records int) error {
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return fmt.Errorf("receiver: %w", err)
	}
	var (
		mu       sync.Mutex
		messages int
	)
	upgrader := websocket.Upgrader{}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, err := upgrader.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer conn.Close()
		for {
			typ, msg, err := conn.ReadMessage()
			if err != nil {
				return
			}
			mu.Lock()
			messages++
			if typ == websocket.TextMessage {
				fmt.Printf("receiver: text message on %s (%d bytes):\n%s\n", r.URL.Path, len(msg), msg)
			} else {
				fmt.Printf("receiver: binary message on %s (%d bytes of msgpack)\n", r.URL.Path, len(msg))
			}
			mu.Unlock()
		}
	})}
	go srv.Serve(ln)
	defer srv.Close()
	fmt.Printf("receiver: listening on ws://%s\n", listen)

	dir, err := os.MkdirTemp("", "out_websocket-demo")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	chunk := filepath.Join(dir, "sample.msgpack")
	if err := os.WriteFile(chunk, encoder.SampleChunk(records, 1), 0o644); err != nil {
		return err
	}

	cmd := exec.Command(host, "-c", conf, "-e", plugin, "-i", chunk, "-t", "demo", "--max-runtime", "20")
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	fmt.Printf("demo: %s\n", cmd)
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("test host: %w", err)
	}

	// The plugin returned FLB_OK after its last write; give the receiver
	// a moment to print it.
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		mu.Lock()
		n := messages
		mu.Unlock()
		if n > 0 {
			fmt.Printf("demo: %d message(s) arrived over a real WebSocket connection\n", n)
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return errors.New("no message arrived")
}
