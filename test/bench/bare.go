package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/out-websocket/out_websocket/encoder"
)

// bareWriteBuffer is the frame size of the bare client: the plugin's
// own (64 KiB), so both put the same frames on the wire.
const bareWriteBuffer = 64 << 10

// bareEnv, set in the environment, makes this program the bare client:
// its value is the bareJob, in JSON. The bare client runs in a process of
// its own so that its CPU time is its own, as the host's is.
const bareEnv = "OUT_WEBSOCKET_BENCH_BARE"

// bareCPUPrefix starts the line on which the bare client reports the CPU
// time of its sending.
const bareCPUPrefix = "bench: bare client CPU ns "

// bareJob is what one bare client run sends.
type bareJob struct {
	URL     string
	File    string // the chunks, framed as for flbhost -I
	Format  string
	Props   []string // the plugin properties of the run it stands beside, key=value
	Repeat  int
	Conns   int
	Timeout time.Duration
}

// bareOptions are the encoder options the plugin uses with props, and
// whether it confirms each chunk, so that the bare client sends the same
// bytes and round trips. It knows the properties that change them; any
// other is an error rather than a wrong comparison.
func bareOptions(format string, props []string) (encoder.Options, bool, error) {
	f, err := encoder.ParseFormat(format)
	if err != nil {
		return encoder.Options{}, false, err
	}
	o := encoder.Options{Format: f, DateKey: "date", DateFormat: encoder.DateDouble, EscapeUnicode: true, MessageLimit: 64 << 20}
	confirm := true
	for _, p := range props {
		k, v, _ := strings.Cut(p, "=")
		switch strings.ToLower(k) {
		case "gelf_short_message_key":
			o.GELF.ShortMessage = v
		case "json_date_key":
			o.DateKey = encoder.ParseDateKey(v)
		case "json_date_format":
			o.DateFormat, err = encoder.ParseDateFormat(v)
		case "json_escape_unicode":
			o.EscapeUnicode, err = parseOnOff(v)
		case "confirm_delivery":
			confirm, err = parseOnOff(v)
		case "max_message_size":
			o.MaxMessageSize, err = strconv.Atoi(v)
		case "uri", "format", "workers":
		default:
			err = errors.New("the bare client does not know it")
		}
		if err != nil {
			return o, confirm, fmt.Errorf("plugin property %s: %w", p, err)
		}
	}
	return o, confirm, nil
}

// parseOnOff reads a boolean property as the plugin does.
func parseOnOff(v string) (bool, error) {
	switch strings.ToLower(v) {
	case "on", "true", "yes", "1":
		return true, nil
	case "off", "false", "no", "0":
		return false, nil
	}
	return false, fmt.Errorf("%q is not on or off", v)
}

// runBare runs the bare client in a child process (this program, with
// bareEnv set) and returns the CPU time its sending took.
func runBare(ctx context.Context, job bareJob) (time.Duration, error) {
	self, err := os.Executable()
	if err != nil {
		return 0, err
	}
	spec, err := json.Marshal(job)
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(ctx, job.Timeout+15*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, self)
	cmd.Env = append(os.Environ(), bareEnv+"="+string(spec))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return 0, fmt.Errorf("bare client: %w\n%s", err, tail([]byte(stderr.String())))
	}
	for line := range strings.Lines(string(out)) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), bareCPUPrefix); ok {
			var ns int64
			if _, err := fmt.Sscan(v, &ns); err != nil {
				return 0, fmt.Errorf("bare client: %q: %w", line, err)
			}
			return time.Duration(ns), nil
		}
	}
	return 0, fmt.Errorf("bare client reported no CPU time:\n%s%s", out, tail([]byte(stderr.String())))
}

// bareChild, in a process started by runBare, runs the bare client and
// exits; elsewhere it returns at once.
func bareChild() {
	job, ok := os.LookupEnv(bareEnv)
	if !ok {
		return
	}
	if err := bareMain(job); err != nil {
		fmt.Fprintln(os.Stderr, "bench: bare client:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// bareMain is the bare client's process: it encodes the chunks as the
// plugin would (not measured), then sends each chunk's messages on one of
// Conns plain gorilla connections, each chunk followed by a ping and the
// wait for its pong (the plugin's confirm_delivery, unless it is off), and
// prints the CPU time of the sending alone.
func bareMain(spec string) error {
	var job bareJob
	if err := json.Unmarshal([]byte(spec), &job); err != nil {
		return err
	}
	opts, confirm, err := bareOptions(job.Format, job.Props)
	if err != nil {
		return err
	}
	data, err := os.ReadFile(job.File)
	if err != nil {
		return err
	}
	chunks, err := unframe(data)
	if err != nil {
		return err
	}
	enc, err := encoder.New(opts)
	if err != nil {
		return err
	}
	var payloads [][][]byte // the messages of each chunk
	for _, c := range chunks {
		res, err := enc.Encode(c)
		if err != nil {
			return err
		}
		payloads = append(payloads, res.Messages)
	}
	typ := websocket.TextMessage
	if opts.Format.Binary() {
		typ = websocket.BinaryMessage
	}

	ctx, cancel := context.WithTimeout(context.Background(), job.Timeout)
	defer cancel()
	deadline, _ := ctx.Deadline()
	dialer := websocket.Dialer{HandshakeTimeout: 10 * time.Second, WriteBufferSize: bareWriteBuffer}
	var conns []*bareConn
	for range job.Conns {
		ws, _, err := dialer.DialContext(ctx, job.URL, nil)
		if err != nil {
			return err
		}
		conns = append(conns, newBareConn(ws))
	}

	start := ownCPU()
	work := make(chan [][]byte)
	errs := make(chan error, len(conns))
	var wg sync.WaitGroup
	for _, bc := range conns {
		wg.Go(func() {
			for msgs := range work {
				if err := bc.sendChunk(typ, msgs, confirm, deadline); err != nil {
					errs <- err
					for range work { // let the feeder finish
					}
					return
				}
			}
		})
	}
	for range job.Repeat {
		for _, msgs := range payloads {
			work <- msgs
		}
	}
	close(work)
	wg.Wait()
	cpu := ownCPU() - start
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	for _, bc := range conns {
		if err := closeAndWait(bc.ws, bc.done, deadline); err != nil {
			return err
		}
	}
	fmt.Printf("%s%d\n", bareCPUPrefix, cpu.Nanoseconds())
	return nil
}

// bareConn is a gorilla connection with the one reader goroutine gorilla
// needs to see pongs, as the plugin's connections have.
type bareConn struct {
	ws    *websocket.Conn
	pongs chan struct{}
	done  chan error // the reader's end
}

func newBareConn(ws *websocket.Conn) *bareConn {
	bc := &bareConn{ws: ws, pongs: make(chan struct{}, 1), done: make(chan error, 1)}
	ws.SetPongHandler(func(string) error {
		bc.pongs <- struct{}{}
		return nil
	})
	go func() {
		for {
			_, r, err := ws.NextReader()
			if err == nil {
				_, err = io.Copy(io.Discard, r)
			}
			if err != nil {
				bc.done <- err
				return
			}
		}
	}()
	return bc
}

// sendChunk writes one chunk's messages, then, with confirm, a ping, and
// waits for its pong: the server has read the chunk.
func (bc *bareConn) sendChunk(typ int, msgs [][]byte, confirm bool, deadline time.Time) error {
	bc.ws.SetWriteDeadline(deadline)
	for _, m := range msgs {
		if err := bc.ws.WriteMessage(typ, m); err != nil {
			return err
		}
	}
	if !confirm {
		return nil
	}
	if err := bc.ws.WriteControl(websocket.PingMessage, nil, deadline); err != nil {
		return err
	}
	select {
	case <-bc.pongs:
		return nil
	case err := <-bc.done:
		return fmt.Errorf("connection ended before the pong: %w", err)
	case <-time.After(time.Until(deadline)):
		return errors.New("no pong before the deadline")
	}
}

// closeAndWait sends a close frame and waits for the reader to see the
// server's: once it comes, the server has read every message, and closing
// the socket cannot reset a connection that still holds unread data.
func closeAndWait(ws *websocket.Conn, done <-chan error, deadline time.Time) error {
	defer ws.Close()
	msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "")
	if err := ws.WriteControl(websocket.CloseMessage, msg, deadline); err != nil {
		return err
	}
	select {
	case err := <-done:
		if websocket.IsCloseError(err, websocket.CloseNormalClosure) {
			return nil
		}
		return err
	case <-time.After(time.Until(deadline)):
		return errors.New("no close frame from the server before the deadline")
	}
}
