package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// readLimit bounds one message from the server. What the server sends is
// read and thrown away as it streams in, so this bounds wasted work, not
// memory; a server that sends more is closed with 1009 (message too big).
const readLimit = 16 << 20

// errClosedByUs is the cause of death of a connection the plugin closed.
var errClosedByUs = errors.New("connection closed by the plugin")

// conn is one WebSocket connection and the goroutines that watch it: a
// reader, which answers pings, discards what the server sends, and sees
// at once when the server closes or the connection breaks; and, with
// ping_interval, a pinger that ends the connection when pongs stop.
type conn struct {
	ws  *websocket.Conn
	url string
	log Logger

	// Owned by the Send holding the connection, or by Client.mu while idle.
	reused   bool      // it carried an earlier chunk
	lastUsed time.Time // end of its last chunk, or its handshake

	done chan struct{} // closed when the reader stops: the connection is dead
	pong chan struct{} // one token per pong, for the pinger

	mu    sync.Mutex
	cause error // why it died; the first reason wins
	busy  bool  // a Send holds it, and closes the socket if it died meanwhile
}

func newConn(ws *websocket.Conn, cfg ConnConfig, log Logger) *conn {
	cn := &conn{ws: ws, url: cfg.URL, log: log, lastUsed: time.Now(), busy: true,
		done: make(chan struct{}), pong: make(chan struct{}, 1)}
	ws.SetReadLimit(readLimit)
	ws.SetPongHandler(func(string) error {
		select {
		case cn.pong <- struct{}{}:
		default:
		}
		return nil
	})
	go cn.read()
	if cfg.PingInterval > 0 {
		go cn.keepalive(cfg.PingInterval, cfg.PingTimeout)
	}
	return cn
}

// read runs until the connection ends. Reading is also what makes gorilla
// answer pings and close frames. The socket of an idle connection is
// closed at once; a Send holding it may still need to ask it whether the
// server acknowledged the chunk before it left, and closes it itself.
func (cn *conn) read() {
	var err error
	for {
		var r io.Reader
		if _, r, err = cn.ws.NextReader(); err != nil {
			break
		}
		if _, err = io.Copy(io.Discard, r); err != nil {
			break
		}
	}
	cn.mu.Lock()
	first := cn.cause == nil
	if first {
		cn.cause = err
	}
	busy := cn.busy
	cn.mu.Unlock()
	if first {
		cn.logEnd(err)
	}
	if !busy {
		cn.ws.Close()
	}
	close(cn.done)
}

// hold marks the connection taken by a Send.
func (cn *conn) hold() {
	cn.mu.Lock()
	cn.busy = true
	cn.mu.Unlock()
}

// release ends a Send's hold; a connection that died meanwhile is closed
// and reported unfit for reuse.
func (cn *conn) release() bool {
	cn.mu.Lock()
	cn.busy = false
	dead := cn.cause != nil
	cn.mu.Unlock()
	if dead {
		cn.ws.Close()
	}
	return !dead
}

// logEnd says why the server ended a connection. A normal or going-away
// close is routine (the next chunk reconnects); anything else may need
// the user's attention, e.g. 1009 asks for a smaller max_message_size.
func (cn *conn) logEnd(err error) {
	var ce *websocket.CloseError
	switch {
	case errors.As(err, &ce) && (ce.Code == websocket.CloseNormalClosure || ce.Code == websocket.CloseGoingAway):
		cn.log.Debugf("%s closed the connection: %v", cn.url, err)
	case errors.As(err, &ce) && ce.Code != websocket.CloseAbnormalClosure: // 1006 is gorilla's word for EOF
		cn.log.Warnf("%s closed the connection: %v", cn.url, err)
	case errors.Is(err, websocket.ErrReadLimit):
		cn.log.Warnf("%s sent a message larger than %d bytes: closing the connection", cn.url, readLimit)
	default:
		cn.log.Debugf("connection to %s ended: %v", cn.url, err)
	}
}

// keepalive pings every interval and ends the connection when a pong does
// not come within timeout.
func (cn *conn) keepalive(interval, timeout time.Duration) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-cn.done:
			return
		case <-tick.C:
		}
		select {
		case <-cn.pong: // an unsolicited or late pong
		default:
		}
		// An error here is a connection the reader sees die, or a long
		// write holding the connection; the write has a deadline of its own.
		if cn.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(timeout)) != nil {
			continue
		}
		wait := time.NewTimer(timeout)
		select {
		case <-cn.pong:
			wait.Stop()
		case <-cn.done:
			wait.Stop()
			return
		case <-wait.C:
			if cn.setCause(fmt.Errorf("no pong within %v (ping_timeout)", timeout)) {
				cn.log.Warnf("no pong from %s within %v (ping_timeout): closing the connection", cn.url, timeout)
			}
			cn.ws.Close()
			return
		}
	}
}

// kill marks the connection dead for err and closes its socket, which
// also stops the reader and any write. It reports whether err is the
// cause of death.
func (cn *conn) kill(err error) bool {
	first := cn.setCause(err)
	cn.ws.Close()
	return first
}

// setCause records why the connection ends unless a reason is already
// known, and reports whether err is the one.
func (cn *conn) setCause(err error) bool {
	cn.mu.Lock()
	defer cn.mu.Unlock()
	if cn.cause != nil {
		return false
	}
	cn.cause = err
	return true
}

func (cn *conn) dead() bool {
	select {
	case <-cn.done:
		return true
	default:
		return false
	}
}

func (cn *conn) err() error {
	cn.mu.Lock()
	defer cn.mu.Unlock()
	return cn.cause
}

// write sends one chunk's messages in order, each within timeout, then
// waits, within timeout again, until the server's TCP has acknowledged
// every byte. It fails, and kills the connection, unless all of that
// happened. Bytes still in our socket buffer would be thrown away by a
// reset from a server that crashed; bytes its TCP acknowledged but it
// had not read are lost with it, which no WebSocket client can tell.
func (cn *conn) write(typ int, messages [][]byte, timeout time.Duration) error {
	for i, m := range messages {
		cn.ws.SetWriteDeadline(time.Now().Add(timeout))
		if err := cn.ws.WriteMessage(typ, m); err != nil {
			return cn.fail(fmt.Errorf("message %d of %d not written to %s: %w", i+1, len(messages), cn.url, err))
		}
	}
	if err := cn.waitAcked(timeout); err != nil {
		return cn.fail(fmt.Errorf("chunk written to %s but not acknowledged: %w", cn.url, err))
	}
	return nil
}

// fail kills the connection for err and returns err, or the reason the
// reader or pinger saw first (a close code, no pong), which says more.
func (cn *conn) fail(err error) error {
	if cn.kill(err) {
		return err
	}
	return fmt.Errorf("%w (%v)", cn.err(), err)
}

// waitAcked polls, from short pauses to 5 ms ones, until the peer
// acknowledged everything written. A server that closes or crashes meanwhile still acknowledges what it
// received (our answer to its close frame included), or resets.
func (cn *conn) waitAcked(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	pause, spins := 50*time.Microsecond, 50
	for {
		n, reset, err := unacked(cn.ws.NetConn())
		switch {
		case err == nil && n == 0, errors.Is(err, errors.ErrUnsupported):
			return nil
		case err != nil && cn.dead():
			return cn.err()
		case err != nil:
			return err
		case reset:
			return fmt.Errorf("connection reset with %d bytes unacknowledged", n)
		case time.Now().After(deadline):
			return fmt.Errorf("%d bytes unacknowledged after %v (write_timeout): %w", n, timeout, os.ErrDeadlineExceeded)
		}
		if spins > 0 {
			// On a fast network the acknowledgement is microseconds
			// away: shorter than any sleep.
			spins--
			runtime.Gosched()
			continue
		}
		time.Sleep(pause)
		pause = min(2*pause, 5*time.Millisecond)
	}
}

// close ends the connection with a close frame of the given code and waits
// up to wait for the server's close frame, as RFC 6455 asks.
func (cn *conn) close(code int, wait time.Duration) {
	cn.setCause(errClosedByUs)
	msg := websocket.FormatCloseMessage(code, "")
	if cn.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(wait)) == nil {
		t := time.NewTimer(wait)
		select {
		case <-cn.done:
		case <-t.C:
		}
		t.Stop()
	}
	cn.ws.Close()
}

// isTimeout tells a deadline that passed from a broken connection.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
