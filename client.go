package main

import (
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// closeWait is how long closing a connection waits for the server's close
// frame after sending ours.
const closeWait = time.Second

var errClientClosed = errors.New("the output is shutting down")

// Why a Send failed, one kind each, kept apart for the log, the backoff
// (only errConnect means the server cannot be reached) and the metrics.
// errNoPong (metrics.go: a keepalive ping unanswered) and serverCloseError
// (conn.go: the server closed the connection) are the others.
var (
	errConnect      = errors.New("connect failed")         // TCP, proxy, TLS or handshake
	errWrite        = errors.New("write failed")           // a message not written in write_timeout, or the socket broke
	errNotConfirmed = errors.New("delivery not confirmed") // no pong for the ping after the chunk
)

// failure is an error of one of those kinds; errors.Is finds the kind.
type failure struct{ kind, err error }

func (f failure) Error() string   { return f.err.Error() }
func (f failure) Unwrap() []error { return []error{f.kind, f.err} }

// Client sends chunks to one WebSocket endpoint. Each concurrent Send takes
// a connection of its own from a pool of idle ones, so frames of two
// flushes never interleave and Workers N needs at most N connections
// (see Connections in docs/configuration.md).
type client struct {
	cfg       connConfig
	log       logger
	metrics   metricsSink
	dialer    *websocket.Dialer
	backoff   *backoff
	closeWait time.Duration
	connected atomic.Bool // a connection was ever made
	// stop is how the client's transfers end when Fluent Bit stops its
	// pipeline (see stop).
	stop *stop
	// cutEra is the era of the stop in which a transfer was cut for making
	// no progress: the server hangs, and later flushes fail at once
	// instead of each waiting stallBound while Fluent Bit waits to join
	// its workers. overEra is the era whose end of grace was logged.
	cutEra, overEra atomic.Int64

	mu      sync.Mutex
	idle    []*conn // the most recently used last
	closed  bool
	closing sync.WaitGroup // connections being retired in the background
}

// newClient makes a client; it connects on the first Send.
func newClient(cfg connConfig, log logger, stop *stop) *client {
	return &client{
		cfg:       cfg,
		log:       log,
		metrics:   noMetrics{},
		dialer:    newDialer(cfg),
		backoff:   newBackoff(cfg.LogURL, log),
		closeWait: closeWait,
		stop:      stop,
	}
}

// messageStream produces the messages of one chunk, in order, handing each
// to write in parts as soon as they are made (so that no more than a part
// of a message is in memory), last true on a message's final part: each
// message it begins it ends, unless write fails. It stops at write's first
// error and returns it. Send calls it again when
// the chunk goes again on a new connection.
type messageStream func(write func(part []byte, last bool) error) error

// Send writes the messages of one chunk, in order, on one connection, as
// frames of messageType (websocket.TextMessage or BinaryMessage). A connection is
// taken at the first message: a chunk without any needs none. It returns nil
// only when every byte was written to the socket (and, with
// confirm_delivery, read by the server). Only a failure to connect counts
// against the server's backoff: a write or a confirmation that fails on a
// server that answered does not make the next flushes fail. A write that fails on a
// reused connection is tried once more on a new one, so the server may see
// a chunk twice (at least once delivery). Once Fluent Bit stops, the stop
// may cut it (errStopping).
func (c *client) Send(messageType int, messages messageStream) error {
	if era, ok := c.stop.stopping(); ok && c.cutEra.Load() == int64(era) {
		return errStalled
	}
	fl, err := c.stop.takeoff()
	if err != nil {
		return err
	}
	defer fl.land()
	cn, err := c.send(fl, messageType, messages, c.take)
	// A reused connection may have died unseen while idle (a server
	// restart, a proxy's idle timeout); a new one deserves a try. A timeout
	// is a server that stopped reading, which a new connection won't fix.
	if err != nil && cn != nil && cn.reused && !isTimeout(err) && !errors.Is(err, errStopping) {
		c.log.Debugf("%v; sending the chunk again on a new connection", err)
		cn, err = c.send(fl, messageType, messages, c.dial)
	}
	if err != nil {
		c.stopped(err)
		return err
	}
	if cn != nil {
		c.put(cn)
	}
	return nil
}

// stopped says once per stop that a transfer was cut because Fluent Bit
// stops, and keeps the era of a cut for making no progress.
func (c *client) stopped(err error) {
	era, _ := c.stop.stopping()
	switch {
	case errors.Is(err, errStalled):
		if c.cutEra.Swap(int64(era)) != int64(era) {
			c.log.Infof("no progress to %s for %v while Fluent Bit stops: cut, the chunk stays Fluent Bit's (RETRY); later flushes to it fail at once",
				c.cfg.LogURL, stallBound)
		}
	case errors.Is(err, errGraceOver):
		if c.overEra.Swap(int64(era)) != int64(era) {
			c.log.Infof("Fluent Bit's grace period is over: what was in flight to %s is cut, the chunk stays Fluent Bit's (RETRY)", c.cfg.LogURL)
		}
	}
}

// send writes the chunk's messages on a connection that get gives at the
// first message, and has the server confirm them, all cut when the flight
// is. It returns that connection, if there was one.
func (c *client) send(fl *flight, messageType int, messages messageStream, get func(*flight) (*conn, error)) (*conn, error) {
	var cn *conn
	release := func() {}
	defer func() { release() }()
	err := messages(func(part []byte, last bool) error {
		if cn == nil {
			var err error
			if cn, err = get(fl); err != nil {
				return err
			}
			fl.track(cn.nc)
			release = cn.carry(fl.ctx)
		}
		return cn.writePart(messageType, part, last, c.cfg.WriteTimeout)
	})
	if cn == nil {
		return nil, err
	}
	if err == nil {
		err = cn.confirmChunk(c.cfg.WriteTimeout)
	}
	return cn, err
}

// take returns an idle connection that is alive and has not been idle
// longer than IdleInterval, or a new one. The others are closed first, so
// a connection a middlebox may have dropped is replaced before the write
// instead of failing it.
func (c *client) take(fl *flight) (*conn, error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, errClientClosed
	}
	now := time.Now()
	var stale []*conn
	keep := c.idle[:0]
	for _, cn := range c.idle {
		if cn.dead() || cn.replacement(now, c.cfg.IdleInterval) != nil {
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
		why := s.replacement(now, c.cfg.IdleInterval)
		switch {
		case s.dead():
		case why == errIdleReplaced:
			c.log.Debugf("closing a connection to %s idle for %v (idle_interval %v)", c.cfg.LogURL,
				now.Sub(s.lastUsed).Round(time.Millisecond), c.cfg.IdleInterval)
		default:
			c.log.Debugf("closing a connection to %s: the OAuth2 token it was opened with is due for renewal", c.cfg.LogURL)
		}
		s.setCause(why)
		go func() {
			defer c.closing.Done()
			s.close(websocket.CloseNormalClosure, c.closeWait)
		}()
	}
	if cn != nil {
		cn.reused = true
		return cn, nil
	}
	return c.dial(fl)
}

// dial connects unless the backoff says the server is down.
func (c *client) dial(fl *flight) (*conn, error) {
	if err := c.backoff.allow(); err != nil {
		return nil, err
	}
	cn, err := c.connect(fl)
	if errors.Is(err, errStopping) {
		// Fluent Bit stopping says nothing of the server; the attempt the
		// backoff allowed is over.
		c.backoff.release()
		return nil, err
	}
	if err != nil {
		c.metrics.ConnectFailed()
		c.backoff.failure(err)
		return nil, failure{errConnect, err}
	}
	c.backoff.success()
	// The first connection is news; later ones are routine (idle, more
	// workers) or were announced by the backoff as the server coming back.
	if c.connected.CompareAndSwap(false, true) {
		c.log.Infof("connected to %s", c.cfg.LogURL)
	} else {
		c.log.Debugf("connected to %s", c.cfg.LogURL)
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

// nodes sends the chunks of one instance to its endpoints: with an
// upstream file, each flush starts at the next node, round-robin (as
// Fluent Bit's out_forward picks a node per flush), and a node that fails
// the chunk hands it, whole, to the next within the flush. Each node is a
// client: its own connections, and its own backoff when it cannot be
// reached, during which it is skipped at once.
type nodes struct {
	clients []*client
	log     logger
	next    atomic.Uint64
}

// newNodes makes a client for each endpoint, its connection metrics
// labelled with the endpoint, its transfers ended by stop.
func newNodes(endpoints []nodeConfig, log logger, metrics instanceMetrics, stop *stop) *nodes {
	ns := &nodes{log: log}
	for _, n := range endpoints {
		c := newClient(n.Conn, log, stop)
		c.metrics = metrics.Node(n.label())
		if len(endpoints) > 1 {
			c.backoff.meanwhile = "flushes skip it meanwhile"
		}
		ns.clients = append(ns.clients, c)
	}
	return ns
}

// nodesFailed is a chunk that every node failed; Quiet when each failure
// was already logged (a node down, Fluent Bit stopping).
type nodesFailed struct {
	errs  []error
	quiet bool
}

func (e nodesFailed) Error() string {
	msgs := make([]string, len(e.errs))
	for i, err := range e.errs {
		msgs[i] = err.Error()
	}
	return "every node failed: " + strings.Join(msgs, "; ")
}

func (e nodesFailed) Unwrap() []error { return e.errs }

// Send sends one chunk to one node, trying the nodes in turn until one
// takes it (see nodes). Once Fluent Bit stops, a node whose transfer is cut
// for making no progress hands the chunk to the next like any failure;
// once the grace period is over every node fails at once.
func (ns *nodes) Send(messageType int, messages messageStream) error {
	n := len(ns.clients)
	if n == 1 {
		return ns.clients[0].Send(messageType, messages)
	}
	start := ns.pick()
	failed := nodesFailed{quiet: true}
	for i := range n {
		c := ns.clients[(start+i)%n]
		err := c.Send(messageType, messages)
		if err == nil {
			return nil
		}
		if errors.Is(err, errClientClosed) || errors.Is(err, errGraceOver) {
			return err
		}
		failed.errs = append(failed.errs, err)
		quiet := quietFailure(err)
		failed.quiet = failed.quiet && quiet
		if i == n-1 {
			break
		}
		next := ns.clients[(start+i+1)%n].cfg.LogURL
		if quiet {
			ns.log.Debugf("%v; the chunk goes to %s", err, next)
		} else {
			ns.log.Warnf("%v; the chunk goes to %s", err, next)
		}
	}
	return failed
}

// pick is the node a flush starts at: the next in turn whose backoff does
// not refuse it, so that the share of a node that is down is spread over
// the others rather than all taken by the node after it. When every node
// waits, the last one looked at (each then fails at once).
func (ns *nodes) pick() int {
	n := uint64(len(ns.clients))
	var i uint64
	for range n {
		if i = (ns.next.Add(1) - 1) % n; !ns.clients[i].backoff.waiting() {
			break
		}
	}
	return int(i)
}

// quietFailure tells a failed Send that was logged where it happened (the
// backoff says once that a server is down; the client once that Fluent
// Bit stops) from one a flush must report.
func quietFailure(err error) bool {
	var nf nodesFailed
	if errors.As(err, &nf) {
		return nf.quiet
	}
	return errors.Is(err, errServerDown) || errors.Is(err, errConnect) || errors.Is(err, errStopping) || errors.Is(err, errClientClosed)
}

// Close closes every node's connections at once: each may wait for its
// server's close frames.
func (ns *nodes) Close() {
	var wg sync.WaitGroup
	for _, c := range ns.clients {
		wg.Go(c.Close)
	}
	wg.Wait()
}
