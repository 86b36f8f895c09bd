package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/out-websocket/out_websocket/encoder"
)

// server is a WebSocket server on 127.0.0.1 that counts the records of
// every message it reads, for one run: one format, any number of
// connections. It keeps no payload, so its memory does not grow with the
// stream.
type server struct {
	format   encoder.Format
	ln       net.Listener
	srv      *http.Server
	upgrader websocket.Upgrader
	handlers sync.WaitGroup // one per upgraded connection

	mu       sync.Mutex
	stopping bool // no more handlers once set
	conns    map[*websocket.Conn]bool
	records  int64
	messages int64
	first    time.Time // first upgrade
	last     time.Time // last message counted
	err      error     // first malformed message or wrong frame type
}

// startServer listens on a free loopback port.
func startServer(format encoder.Format) (*server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &server{
		format: format,
		ln:     ln,
		conns:  map[*websocket.Conn]bool{},
		upgrader: websocket.Upgrader{
			ReadBufferSize:   64 << 10,
			WriteBufferSize:  4 << 10,
			HandshakeTimeout: 10 * time.Second,
		},
	}
	s.srv = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	go s.srv.Serve(ln)
	return s, nil
}

// url is where clients connect; the path names the format, for the logs.
func (s *server) url() string {
	return "ws://" + s.ln.Addr().String() + "/" + s.format.String()
}

// ServeHTTP upgrades the request and counts the records of each message
// until the client goes away.
func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ws, err := s.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // the upgrader has answered
	}
	s.mu.Lock()
	if s.stopping {
		s.mu.Unlock()
		ws.Close()
		return
	}
	if s.first.IsZero() {
		s.first = time.Now()
	}
	s.conns[ws] = true
	s.handlers.Add(1)
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.conns, ws)
		s.mu.Unlock()
		ws.Close()
		s.handlers.Done()
	}()

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
	s.mu.Lock()
	s.stopping = true
	s.mu.Unlock()
	done := make(chan struct{})
	go func() {
		s.handlers.Wait()
		close(done)
	}()
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case <-done:
	case <-timer.C:
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	s.srv.Shutdown(ctx)
	s.mu.Lock()
	for ws := range s.conns {
		ws.Close() // hijacked connections are not Shutdown's business
	}
	s.mu.Unlock()
	<-done

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
