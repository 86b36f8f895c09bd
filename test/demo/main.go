// Command demo shows out_websocket at work: it starts a WebSocket server
// that prints what it receives, runs the test host with the plugin over a
// Fluent Bit config, and stops by itself. The host has no inputs, so the
// demo hands it the records the config's dummy input would make: its Dummy
// record, one a second, one chunk each, as Fluent Bit run over the same
// config sends them.
//
// Without -host it is only the receiver, until interrupted, for a real
// Fluent Bit: go run ./test/demo -listen 127.0.0.1:8700
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gorilla/websocket"
	"github.com/out-websocket/out_websocket/internal/chunktest"
	"github.com/out-websocket/out_websocket/internal/wstest"
)

func main() {
	conf := flag.String("conf", "conf/fluent-bit.conf", "Fluent Bit config the host runs")
	host := flag.String("host", "", "the test host to run (make demo: test/flbhost/flbhost); none: only receive, until interrupted")
	plugin := flag.String("plugin", "./out_websocket.so", "the plugin")
	listen := flag.String("listen", "127.0.0.1:8700", "where the receiver listens: the Host and Port of -conf")
	records := flag.Int("records", 5, "records of the config's dummy input to send")
	flag.Parse()
	var err error
	if *host == "" {
		err = receive(*listen)
	} else {
		err = run(*conf, *host, *plugin, *listen, *records)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

// receive prints what arrives on listen until SIGINT or SIGTERM.
func receive(listen string) error {
	srv, err := startReceiver(listen)
	if err != nil {
		return err
	}
	defer srv.Stop(0)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	<-sig
	return nil
}

// run sends sample records through the plugin in the test host to a
// receiver of its own.
func run(conf, host, plugin, listen string, records int) error {
	srv, err := startReceiver(listen)
	if err != nil {
		return err
	}
	defer srv.Stop(0)

	dir, err := os.MkdirTemp("", "out_websocket-demo")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	body, err := dummyRecord(conf)
	if err != nil {
		return err
	}
	chunks := make([][]byte, records)
	start := time.Now().Unix()
	for i := range chunks {
		chunks[i] = chunktest.Event(chunktest.Time(uint32(start)+uint32(i), 0), chunktest.M{}, body)
	}
	input := filepath.Join(dir, "dummy.chunks")
	if err := os.WriteFile(input, chunktest.Frame(chunks...), 0o644); err != nil {
		return err
	}

	// The tag is the config's [INPUT] Tag, which the host reads itself.
	cmd := exec.Command(host, "-c", conf, "-e", plugin, "-I", input, "--max-runtime", "20")
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	fmt.Printf("demo: %s\n", cmd)
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("test host: %w", err)
	}

	// The plugin returned FLB_OK after its last write; give the receiver
	// a moment to print it.
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		if n := srv.messages.Load(); n >= int64(records) {
			fmt.Printf("demo: %d message(s) arrived over a real WebSocket connection\n", n)
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("%d of %d messages arrived", srv.messages.Load(), records)
}

// dummyRecord is the record of conf's dummy input (its Dummy key, classic
// or YAML; Fluent Bit's default when unset), keys in their order.
func dummyRecord(conf string) (chunktest.M, error) {
	text, err := os.ReadFile(conf)
	if err != nil {
		return nil, err
	}
	record := `{"message":"dummy"}`
	for _, line := range strings.Split(string(text), "\n") {
		key, value, ok := strings.Cut(strings.TrimSpace(line), " ")
		if key, yaml := strings.CutSuffix(key, ":"); ok && strings.EqualFold(key, "dummy") {
			value = strings.TrimSpace(value)
			if yaml {
				value = strings.Trim(value, `'"`)
			}
			record = value
			break
		}
	}
	dec := json.NewDecoder(strings.NewReader(record))
	dec.UseNumber()
	v, err := jsonValue(dec)
	if m, ok := v.(chunktest.M); ok && err == nil {
		return m, nil
	}
	return nil, fmt.Errorf("%s: the dummy input's record %s is not a JSON object (%v)", conf, record, err)
}

// jsonValue reads one JSON value from dec as msgpack values for chunktest,
// objects as ordered maps.
func jsonValue(dec *json.Decoder) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch tok := tok.(type) {
	case json.Delim:
		var items []any
		for dec.More() {
			if tok == '{' {
				key, err := dec.Token()
				if err != nil {
					return nil, err
				}
				items = append(items, key)
			}
			v, err := jsonValue(dec)
			if err != nil {
				return nil, err
			}
			items = append(items, v)
		}
		if _, err := dec.Token(); err != nil { // the closing delimiter
			return nil, err
		}
		if tok == '{' {
			return chunktest.M(items), nil
		}
		return chunktest.A(items), nil
	case json.Number:
		if i, err := tok.Int64(); err == nil {
			return i, nil
		}
		return tok.Float64()
	}
	return tok, nil
}

// receiver is a WebSocket server that prints every message it reads.
type receiver struct {
	*wstest.WSServer
	messages atomic.Int64
	mu       sync.Mutex // one message printed whole before the next: connections share stdout
}

func startReceiver(listen string) (*receiver, error) {
	rcv := &receiver{}
	var err error
	if rcv.WSServer, err = wstest.NewWSServer(wstest.WSOptions{Addr: listen, Handle: rcv.print}); err != nil {
		return nil, fmt.Errorf("receiver: %w", err)
	}
	fmt.Printf("receiver: listening on ws://%s\n", listen)
	return rcv, nil
}

// print prints the messages of one connection until it ends.
func (rcv *receiver) print(ws *wstest.Conn) {
	path := ws.Request.URL.Path
	for {
		typ, msg, err := ws.ReadMessage()
		if err != nil {
			return
		}
		rcv.mu.Lock()
		rcv.messages.Add(1)
		if typ == websocket.TextMessage {
			fmt.Printf("receiver: text message on %s (%d bytes):\n%s\n", path, len(msg), msg)
		} else {
			fmt.Printf("receiver: binary message on %s (%d bytes of msgpack)\n", path, len(msg))
		}
		rcv.mu.Unlock()
	}
}
