package main

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// closeWait is how long closing a connection waits for the server's close
// frame after sending ours.
const closeWait = time.Second

var errClientClosed = errors.New("the output is shutting down")

// client sends chunks to one WebSocket endpoint. Each concurrent Send takes
// a connection of its own from a pool of idle ones, so frames of two
// flushes never interleave and Workers N needs at most N connections
// (see the README's Connections).
type client struct {
	cfg       connConfig
	log       logger
	metrics   metricsSink
	dialer    *websocket.Dialer
	backoff   *backoff
	closeWait time.Duration
	connected atomic.Bool // a connection was ever made

	mu      sync.Mutex
	idle    []*conn // the most recently used last
	closed  bool
	closing sync.WaitGroup // connections being retired in the background
}

// newClient makes a client; it connects on the first Send.
func newClient(cfg connConfig, log logger) *client {
	return &client{
		cfg:       cfg,
		log:       log,
		metrics:   noMetrics{},
		dialer:    newDialer(cfg),
		backoff:   newBackoff(cfg.URL, log),
		closeWait: closeWait,
	}
}

// Send writes the messages of one chunk, in order, on one connection, as
// frames of messageType (websocket.TextMessage or BinaryMessage). It returns nil
// only when every byte was written to the socket. A write that fails on a
// reused connection is tried once more on a new one, so the server may see
// a chunk twice (at least once delivery).
func (c *client) Send(messageType int, messages [][]byte) error {
	cn, err := c.take()
	if err != nil {
		return err
	}
	err = cn.write(messageType, messages, c.cfg.WriteTimeout)
	// A reused connection may have died unseen while idle (a server
	// restart, a proxy's idle timeout); a new one deserves a try. A timeout
	// is a server that stopped reading, which a new connection won't fix.
	if err != nil && cn.reused && !isTimeout(err) {
		c.log.Debugf("%v; sending the chunk again on a new connection", err)
		if cn, err = c.dial(); err != nil {
			return err
		}
		err = cn.write(messageType, messages, c.cfg.WriteTimeout)
	}
	if err != nil {
		c.backoff.failure(err)
		return err
	}
	c.backoff.success()
	c.put(cn)
	return nil
}

// take returns an idle connection that is alive and has not been idle
// longer than IdleInterval, or a new one. The others are closed first, so
// a connection a middlebox may have dropped is replaced before the write
// instead of failing it.
func (c *client) take() (*conn, error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, errClientClosed
	}
	now := time.Now()
	var stale []*conn
	keep := c.idle[:0]
	for _, cn := range c.idle {
		if cn.dead() || (c.cfg.IdleInterval > 0 && now.Sub(cn.lastUsed) > c.cfg.IdleInterval) {
			stale = append(stale, cn)
		} else {
			keep = append(keep, cn)
		}
	}
	clear(c.idle[len(keep):])
	c.idle = keep
	c.closing.Add(len(stale)) // under mu: before a Close can wait
	var cn *conn
	if n := len(c.idle); n > 0 {
		cn = c.idle[n-1]
		c.idle[n-1] = nil
		c.idle = c.idle[:n-1]
	}
	c.mu.Unlock()

	for _, s := range stale {
		if !s.dead() {
			c.log.Debugf("closing a connection to %s idle for %v (idle_interval %v)", c.cfg.URL,
				now.Sub(s.lastUsed).Round(time.Millisecond), c.cfg.IdleInterval)
		}
		s.setCause(errIdleReplaced)
		go func() {
			defer c.closing.Done()
			s.close(websocket.CloseNormalClosure, c.closeWait)
		}()
	}
	if cn != nil {
		cn.reused = true
		return cn, nil
	}
	return c.dial()
}

// dial connects unless the backoff says the server is down.
func (c *client) dial() (*conn, error) {
	if err := c.backoff.allow(); err != nil {
		return nil, err
	}
	cn, err := c.connect()
	if err != nil {
		c.metrics.ConnectFailed()
		c.backoff.failure(err)
		return nil, err
	}
	// The first connection is news; later ones are routine (idle, more
	// workers) or were announced by the backoff as the server coming back.
	if c.connected.CompareAndSwap(false, true) {
		c.log.Infof("connected to %s", c.cfg.URL)
	} else {
		c.log.Debugf("connected to %s", c.cfg.URL)
	}
	return cn, nil
}

// put returns a connection to the pool after a chunk was sent on it,
// unless it died meanwhile.
func (c *client) put(cn *conn) {
	if cn.dead() {
		return
	}
	cn.lastUsed = time.Now()
	c.mu.Lock()
	if !c.closed {
		c.idle = append(c.idle, cn)
		c.mu.Unlock()
		return
	}
	c.mu.Unlock()
	cn.close(websocket.CloseNormalClosure, c.closeWait)
}

// Close ends every idle connection with a normal closure (1000), waiting
// briefly for the server's close frames. A Send still running closes its
// connection when it is done; later Sends fail.
func (c *client) Close() {
	c.mu.Lock()
	idle := c.idle
	c.idle, c.closed = nil, true
	c.mu.Unlock()
	var wg sync.WaitGroup
	for _, cn := range idle {
		wg.Go(func() { cn.close(websocket.CloseNormalClosure, c.closeWait) })
	}
	wg.Wait()
	c.closing.Wait()
}
