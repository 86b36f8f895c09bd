package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
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
	ws      *websocket.Conn
	nc      *meteredConn // its TCP connection
	url     string
	log     logger
	metrics metricsSink
	confirm bool      // confirm_delivery: a chunk is sent once its ping is answered
	renewAt time.Time // when the token it was opened with is due for renewal; zero: never

	// Owned by the Send holding the connection, or by client.mu while idle.
	reused   bool           // it carried an earlier chunk
	lastUsed time.Time      // end of its last chunk, or its handshake
	message  io.WriteCloser // the message being written, in parts
	messages int            // messages begun in the chunk being written
	msgBytes int            // payload of the message being written so far
	unmarked int            // bytes written since the last progress mark

	done   chan struct{} // closed when the reader stops: the connection is dead
	pinger chan struct{} // closed when the keepalive stops; nil without one
	pings  atomic.Uint64 // number of the last ping sent
	busy   atomic.Bool   // a chunk is being written: its own deadlines and ping watch the connection

	mu     sync.Mutex
	cause  error         // why it died; the first reason wins
	ponged uint64        // number of the last ping the server answered
	pong   chan struct{} // closed, and replaced, at each pong
}

// newConn watches a connection made with an Authorization due for renewal
// at renewAt (zero: never).
func newConn(ws *websocket.Conn, cfg connConfig, log logger, metrics metricsSink, renewAt time.Time) *conn {
	cn := &conn{ws: ws, url: cfg.LogURL, log: log, metrics: metrics, confirm: cfg.ConfirmDelivery, lastUsed: time.Now(),
		renewAt: renewAt, done: make(chan struct{}), pong: make(chan struct{})}
	ws.SetReadLimit(readLimit)
	ws.SetPongHandler(cn.onPong)
	go cn.read()
	if cfg.PingInterval > 0 {
		cn.pinger = make(chan struct{})
		go func() {
			defer close(cn.pinger)
			cn.keepalive(cfg.PingInterval, cfg.PingTimeout)
		}()
	}
	return cn
}

// read runs until the connection ends. Reading is also what makes gorilla
// answer pings and close frames, and see pongs.
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
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		err = serverCloseError{ce}
	}
	if cn.setCause(err) {
		cn.logEnd(err)
	}
	cn.metrics.Ended(cn.err())
	cn.ws.Close()
	close(cn.done)
}

// onPong records the answer to one of our pings. Pongs the server sends of
// its own accord (allowed by RFC 6455) carry no number of ours and confirm
// nothing.
func (cn *conn) onPong(data string) error {
	if len(data) != 8 {
		return nil
	}
	n := binary.BigEndian.Uint64([]byte(data))
	if n == 0 || n > cn.pings.Load() {
		return nil
	}
	cn.mu.Lock()
	cn.ponged = max(cn.ponged, n)
	close(cn.pong)
	cn.pong = make(chan struct{})
	cn.mu.Unlock()
	return nil
}

// ping sends a ping and waits, within timeout, for its pong. A server reads
// frames in order, so its pong also says it read every message sent before
// the ping: the one acknowledgement WebSocket offers.
func (cn *conn) ping(timeout time.Duration) error {
	n := cn.pings.Add(1)
	var payload [8]byte
	binary.BigEndian.PutUint64(payload[:], n)
	if err := cn.ws.WriteControl(websocket.PingMessage, payload[:], time.Now().Add(timeout)); err != nil {
		return fmt.Errorf("%w: %w", errPingNotSent, err)
	}
	wait := time.NewTimer(timeout)
	defer wait.Stop()
	for {
		cn.mu.Lock()
		answered, pong := cn.ponged >= n, cn.pong
		cn.mu.Unlock()
		if answered {
			return nil
		}
		select {
		case <-pong:
		case <-cn.done:
			return cn.err()
		case <-wait.C:
			return fmt.Errorf("%w within %v: %w", errNoPong, timeout, os.ErrDeadlineExceeded)
		}
	}
}

// answersPings, with confirm_delivery, sends a ping right after the
// handshake and waits within timeout for its pong: a server that never
// answers pings (some proxies and frameworks drop them) would otherwise
// get every chunk written in full, failed unconfirmed, and resent without
// end. It kills the connection when no pong comes, or when stop is done.
func (cn *conn) answersPings(stop context.Context, timeout time.Duration) error {
	if !cn.confirm {
		return nil
	}
	unwatch := context.AfterFunc(stop, func() { cn.kill(context.Cause(stop)) })
	defer unwatch()
	err := cn.ping(timeout)
	switch {
	case err == nil:
		return nil
	case stop.Err() != nil:
		return fmt.Errorf("connect to %s: %w", cn.url, context.Cause(stop))
	case errors.Is(err, errNoPong):
		cn.kill(fmt.Errorf("%w within %v (ping_timeout) after the handshake", errNoPong, timeout))
		return fmt.Errorf("%s answered no ping within %v (ping_timeout) after the handshake, and confirm_delivery needs a pong "+
			"after each chunk: for a server that does not answer pings, set confirm_delivery off", cn.url, timeout)
	}
	cn.kill(err)
	return fmt.Errorf("connection to %s ended right after the handshake: %w", cn.url, err)
}

// serverCloseError is a close frame from the server. Its reason is the
// server's text: it is quoted, so that it cannot forge log lines.
type serverCloseError struct{ ce *websocket.CloseError }

func (e serverCloseError) Error() string {
	if e.ce.Text == "" {
		return fmt.Sprintf("close %d", e.ce.Code)
	}
	return fmt.Sprintf("close %d, reason %q", e.ce.Code, e.ce.Text)
}

func (e serverCloseError) Unwrap() error { return e.ce }

// logEnd says why the server ended a connection. A normal or going-away
// close is routine (the next chunk reconnects), and so is any close of a
// connection whose token is due for renewal (a server enforcing its
// expiry on an idle connection); anything else may need the user's
// attention, e.g. 1009 asks for a smaller max_message_size.
func (cn *conn) logEnd(err error) {
	var ce *websocket.CloseError
	switch {
	case errors.As(err, &ce) && !cn.renewAt.IsZero() && !time.Now().Before(cn.renewAt):
		cn.log.Debugf("%s closed a connection opened with a token now due for renewal: %v", cn.url, err)
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

// errPingNotSent is a ping that could not be written (in time): no pong
// can be missing for it.
var errPingNotSent = errors.New("ping not sent")

// keepalive pings every interval and ends the connection when a pong does
// not come within timeout. It leaves alone a connection that carries a
// chunk: a slow server may take all of write_timeout to read it, and a
// ping queued behind it would count that against ping_timeout.
func (cn *conn) keepalive(interval, timeout time.Duration) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-cn.done:
			return
		case <-tick.C:
		}
		if cn.busy.Load() {
			continue
		}
		err := cn.ping(timeout)
		switch {
		case cn.dead():
			return
		case isTimeout(err) && !errors.Is(err, errPingNotSent) && cn.setCause(fmt.Errorf("%w within %v (ping_timeout)", errNoPong, timeout)):
			cn.log.Warnf("no pong from %s within %v (ping_timeout): closing the connection", cn.url, timeout)
			cn.ws.Close()
			return
		}
		// A ping not written (in time) is behind a write that has a
		// deadline of its own.
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

// replacement says why an idle connection must be replaced before it
// carries a chunk, or nil: it sat idle longer than idle (0: no limit), or
// the token it was opened with is due for renewal, which a server may
// enforce by cutting it.
func (cn *conn) replacement(now time.Time, idle time.Duration) error {
	switch {
	case !cn.renewAt.IsZero() && !now.Before(cn.renewAt):
		return errTokenRenewal
	case idle > 0 && now.Sub(cn.lastUsed) > idle:
		return errIdleReplaced
	}
	return nil
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

// carry marks the connection as carrying a chunk until the returned
// function is called: the keepalive leaves it alone, and it is killed
// when stop is done (Fluent Bit stopping).
func (cn *conn) carry(stop context.Context) (done func()) {
	unwatch := context.AfterFunc(stop, func() { cn.kill(context.Cause(stop)) })
	cn.busy.Store(true)
	cn.messages = 0
	return func() {
		unwatch()
		cn.busy.Store(false)
	}
}

// writePart writes part of a message of a chunk, beginning the message at
// its first part and ending it at the last; the whole message must be
// written within timeout. Gorilla cuts the parts into frames of its write
// buffer's size, so the frames are those of the whole message. It kills
// the connection when it cannot write.
func (cn *conn) writePart(typ int, part []byte, last bool, timeout time.Duration) error {
	if cn.message == nil {
		cn.messages++
		cn.msgBytes = 0
		cn.ws.SetWriteDeadline(time.Now().Add(timeout))
		w, err := cn.ws.NextWriter(typ)
		if err != nil {
			return cn.writeFailed(err)
		}
		cn.message = w
	}
	for len(part) > 0 {
		n := min(len(part), markEvery-cn.unmarked)
		if _, err := cn.message.Write(part[:n]); err != nil {
			return cn.writeFailed(err)
		}
		part = part[n:]
		cn.msgBytes += n
		if cn.unmarked += n; cn.unmarked == markEvery {
			if err := cn.mark(timeout); err != nil {
				return cn.writeFailed(err)
			}
		}
	}
	if !last {
		return nil
	}
	err := cn.message.Close()
	cn.message = nil
	if err != nil {
		return cn.writeFailed(err)
	}
	cn.metrics.Sent(1, cn.msgBytes)
	return nil
}

// markEvery is how many bytes go between two progress marks: a frame's
// worth, so that a server reading at 128 KB/s or more shows progress
// within stallBound.
const markEvery = writeBufferSize

// mark sends a ping between the frames of what is being written (RFC 6455
// 5.4 allows control frames amid a fragmented message). A server answers
// it once it has read what came before: while the bytes sit in the
// server's socket buffer, only these pongs show that it reads, and a stop
// tells a slow server from one that stopped by them (see stop).
func (cn *conn) mark(timeout time.Duration) error {
	cn.unmarked = 0
	var payload [8]byte
	binary.BigEndian.PutUint64(payload[:], cn.pings.Add(1))
	return cn.ws.WriteControl(websocket.PingMessage, payload[:], time.Now().Add(timeout))
}

// writeFailed kills the connection for a failed write of the current message.
func (cn *conn) writeFailed(err error) error {
	cn.message = nil
	return cn.fail(failure{errWrite, fmt.Errorf("message %d of the chunk not written to %s: %w", cn.messages, cn.url, err)})
}

// confirmChunk, with confirm_delivery, sends a ping after a chunk's
// messages and waits within timeout for its pong; it kills the connection
// when none comes. Without the pong, a server that crashes or drops the
// connection takes with it what it had not read yet, though every write
// succeeded.
func (cn *conn) confirmChunk(timeout time.Duration) error {
	if !cn.confirm {
		return nil
	}
	sent := time.Now()
	if err := cn.ping(timeout); err != nil {
		return cn.fail(failure{errNotConfirmed, fmt.Errorf("chunk written to %s but its reading not confirmed (a ping after it got no pong within write_timeout; for a server that does not answer pings set confirm_delivery off): %w", cn.url, err)})
	}
	cn.metrics.Confirmed(time.Since(sent))
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

// close ends the connection with a close frame of the given code and waits
// up to wait for the server's close frame, as RFC 6455 asks. It returns
// once the connection's reader and keepalive are gone: after the
// instance's exit nothing may log through it.
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
	<-cn.done
	if cn.pinger != nil {
		<-cn.pinger
	}
}

// isTimeout tells a deadline that passed from a broken connection.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
