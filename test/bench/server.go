package main

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/out-websocket/out_websocket/encoder"
	"github.com/out-websocket/out_websocket/internal/wstest"
)

// server counts the records of every message a wstest.WSServer reads, for
// one run: one format, any number of connections. It keeps no payload, so
// its memory does not grow with the stream.
type server struct {
	*wstest.WSServer
	format encoder.Format

	mu       sync.Mutex
	records  int64
	messages int64
	first    time.Time // first upgrade
	last     time.Time // last message counted
	err      error     // first malformed message or wrong frame type
}

// startServer listens on a free loopback port; the path names the format,
// for the logs.
func startServer(format encoder.Format) (*server, error) {
	s := &server{format: format}
	var err error
	s.WSServer, err = wstest.NewWSServer(wstest.WSOptions{Path: "/" + format.String(), Handle: s.count})
	return s, err
}

// count counts the records of each message of a connection until the
// client goes away.
func (s *server) count(ws *wstest.Conn) {
	s.mu.Lock()
	if s.first.IsZero() {
		s.first = time.Now()
	}
	s.mu.Unlock()
	c := counter{format: s.format}
	var buf bytes.Buffer // reused: messages are a few MB each
	for {
		typ, r, err := ws.NextReader()
		if err != nil {
			return // closed by the client, or the server stopping
		}
		buf.Reset()
		if _, err := buf.ReadFrom(r); err != nil {
			return
		}
		n, err := c.count(buf.Bytes())
		if err == nil && (typ == websocket.BinaryMessage) != s.format.Binary() {
			err = fmt.Errorf("frame type %d for format %v", typ, s.format)
		}
		s.mu.Lock()
		if err != nil && s.err == nil {
			s.err = fmt.Errorf("message %d: %w", s.messages+1, err)
		}
		s.records += int64(n)
		s.messages++
		s.last = time.Now()
		s.mu.Unlock()
	}
}

// tally is what a server counted.
type tally struct {
	records, messages int64
	elapsed           time.Duration // first upgrade to last message
	err               error
}

// stop waits up to wait for the clients to close their connections, then
// closes whatever is left and the listener, and returns the tally.
func (s *server) stop(wait time.Duration) tally {
	s.WaitIdle(wait)
	s.Stop(0)
	s.mu.Lock()
	defer s.mu.Unlock()
	t := tally{records: s.records, messages: s.messages, err: s.err}
	if s.messages > 0 {
		t.elapsed = s.last.Sub(s.first)
	} else if t.err == nil {
		t.err = errors.New("no message received")
	}
	return t
}
