package main

// The life of the plugin in Fluent Bit: its registrations (one per
// pipeline that loads it: the first, and one per hot reload), the
// instances each holds, the signals that tell Fluent Bit to stop, and how
// a registration's transfers stop (see stop).

/*
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

static int flbws_signal_fd = -1;

// The signals the plugin puts its handler in front of, and what each
// chained to when it was (re)wrapped.
static volatile sig_atomic_t flbws_wrapped[NSIG];
static struct sigaction flbws_prev[NSIG];

// Go's own handlers for the faults it turns into panics, as it installed
// them when the library was loaded.
static volatile sig_atomic_t flbws_go_saved[NSIG];
static struct sigaction flbws_go[NSIG];

static void flbws_on_signal(int sig, siginfo_t *info, void *uctx);

static int flbws_is_ours(const struct sigaction *sa) {
	return (sa->sa_flags & SA_SIGINFO) && sa->sa_sigaction == flbws_on_signal;
}

static int flbws_same_handler(const struct sigaction *a, const struct sigaction *b) {
	return (a->sa_flags & SA_SIGINFO) == (b->sa_flags & SA_SIGINFO) &&
		((a->sa_flags & SA_SIGINFO) ? a->sa_sigaction == b->sa_sigaction : a->sa_handler == b->sa_handler);
}

// flbws_wrap puts flbws_on_signal in front of the process's handler for
// sig, where the process handles sig itself: 2 when it did, 1 when it was
// there already, 0 when sig is left to the default (or ignored), -1 on
// error.
static int flbws_wrap(int sig) {
	struct sigaction cur, sa;
	if (sig <= 0 || sig >= NSIG || sigaction(sig, NULL, &cur) != 0) {
		return -1;
	}
	flbws_wrapped[sig] = 1;
	if (flbws_is_ours(&cur)) {
		return 1;
	}
	if (!(cur.sa_flags & SA_SIGINFO) && (cur.sa_handler == SIG_DFL || cur.sa_handler == SIG_IGN)) {
		return 0;
	}
	flbws_prev[sig] = cur;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = flbws_on_signal;
	sa.sa_mask = cur.sa_mask;
	// SA_ONSTACK: the signal may land on a Go thread, whose stack is small.
	sa.sa_flags = (cur.sa_flags | SA_SIGINFO | SA_ONSTACK) & ~SA_RESETHAND;
	return sigaction(sig, &sa, NULL) == 0 ? 2 : -1;
}

// flbws_save_go keeps the handler Go installed for a fault it turns into
// a panic, to put it back when it is replaced.
static void flbws_save_go(int sig) {
	if (sigaction(sig, NULL, &flbws_go[sig]) == 0 &&
		((flbws_go[sig].sa_flags & SA_SIGINFO) || flbws_go[sig].sa_handler != SIG_DFL)) {
		flbws_go_saved[sig] = 1;
	}
}

// flbws_rewatch puts back what a process that installs its handlers anew
// took away: Fluent Bit 2.1 and later run flb_signal_init() again in their
// SIGHUP and SIGCONT handler, and its signal() calls replace the plugin's
// handlers (and lose SA_ONSTACK) and Go's handlers for SIGSEGV and SIGFPE
// (then a nil dereference that Go would turn into a panic aborts Fluent
// Bit). Each wrapped signal gets its wrapper again, in front of what is
// installed now; Go's faults get Go's handler, which passes a fault outside
// Go code on to the handler it found at load: Fluent Bit's own.
// Async-signal-safe. It returns how many handlers it put back.
static int flbws_rewatch(void) {
	struct sigaction cur;
	int n = 0;
	int sig;
	for (sig = 1; sig < NSIG; sig++) {
		if (flbws_wrapped[sig] && flbws_wrap(sig) == 2) {
			n++;
		}
		if (flbws_go_saved[sig] && sigaction(sig, NULL, &cur) == 0 &&
			!flbws_same_handler(&cur, &flbws_go[sig]) && sigaction(sig, &flbws_go[sig], NULL) == 0) {
			n++;
		}
	}
	return n;
}

// flbws_stops tells the signals after which Fluent Bit stops: SIGTERM,
// SIGINT, SIGQUIT, and SIGHUP where it handles SIGHUP as SIGTERM (1.9,
// 2.0; later releases reload on SIGHUP).
static int flbws_stops(int sig) {
	if (sig == SIGTERM || sig == SIGINT || sig == SIGQUIT) {
		return 1;
	}
	return sig == SIGHUP && flbws_wrapped[SIGTERM] && flbws_same_handler(&flbws_prev[SIGHUP], &flbws_prev[SIGTERM]);
}

// flbws_on_signal tells the plugin of a stop (one byte down a pipe,
// async-signal-safe), runs the handler it wraps, which does the real work,
// and then puts back whatever that handler replaced.
static void flbws_on_signal(int sig, siginfo_t *info, void *uctx) {
	int saved = errno;
	struct sigaction p = flbws_prev[sig];
	if (flbws_signal_fd >= 0 && flbws_stops(sig)) {
		unsigned char b = (unsigned char) sig;
		ssize_t n = write(flbws_signal_fd, &b, 1);
		(void) n;
	}
	errno = saved;
	if (p.sa_flags & SA_SIGINFO) {
		p.sa_sigaction(sig, info, uctx);
	} else if (p.sa_handler != SIG_DFL && p.sa_handler != SIG_IGN) {
		p.sa_handler(sig);
	}
	flbws_rewatch();
	errno = saved;
}

static void flbws_set_signal_fd(int fd) { flbws_signal_fd = fd; }
*/
import "C"

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

// Go's handlers for the faults it turns into panics are kept as soon as
// the library is loaded, before Fluent Bit can replace them.
func init() {
	for _, sig := range []syscall.Signal{syscall.SIGSEGV, syscall.SIGBUS, syscall.SIGFPE} {
		C.flbws_save_go(C.int(sig))
	}
}

// lifecycle holds the plugin's registrations; life is the one of this
// process.
type lifecycle struct {
	mu   sync.Mutex
	regs []*registration // registered, not unregistered yet, oldest first
	// hotReload: FLBPluginPreRegister said the next registration is a hot
	// reload's.
	hotReload bool
}

var life lifecycle

// registration is one pipeline of Fluent Bit that loaded the plugin, from
// FLBPluginRegister to FLBPluginUnregister of its def: the instances
// Fluent Bit initialised for it, and their stop. A hot reload registers
// the plugin for the new pipeline while the old one runs, and the new one
// may fail (Fluent Bit 2.2 to 5.1 validate the new configuration only
// after that registration, and on failure unregister it): each
// registration's instances are its own.
type registration struct {
	def       unsafe.Pointer
	stop      *stop
	instances map[*instance]struct{} // under lifecycle.mu
	// reload is set for a hot reload's registration, with the
	// registrations whose stop it began; inited once an instance of it
	// was initialised (a reload that failed never gets one).
	reload   bool
	replaces []*registration
	inited   bool
}

// preRegister notes whether the next registration is a hot reload's
// (FLBPluginPreRegister, Fluent Bit 2.2 and later).
func (l *lifecycle) preRegister(hotReload bool) {
	l.mu.Lock()
	l.hotReload = hotReload
	l.mu.Unlock()
}

// register starts a registration. A hot reload's begins the stop of the
// registrations before it: from here Fluent Bit validates the new
// configuration, then stops the old pipeline, waiting for every flush.
func (l *lifecycle) register(def unsafe.Pointer) *registration {
	l.mu.Lock()
	defer l.mu.Unlock()
	r := &registration{def: def, stop: newStop(defaultGrace), instances: map[*instance]struct{}{}, reload: l.hotReload}
	l.hotReload = false
	if r.reload {
		for _, old := range l.regs {
			if old.beginStop("a hot reload began") {
				r.replaces = append(r.replaces, old)
			}
		}
	}
	l.regs = append(l.regs, r)
	return r
}

// registrationOf is the registration an instance being initialised
// belongs to: the one of its def, else (a def never seen registered) the
// last one.
func (l *lifecycle) registrationOf(def unsafe.Pointer) *registration {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, r := range l.regs {
		if r.def == def {
			return r
		}
	}
	if n := len(l.regs); n > 0 {
		return l.regs[n-1]
	}
	r := &registration{def: def, stop: newStop(defaultGrace), instances: map[*instance]struct{}{}}
	l.regs = append(l.regs, r)
	return r
}

// add counts in among r's instances.
func (l *lifecycle) add(r *registration, in *instance) {
	l.mu.Lock()
	defer l.mu.Unlock()
	in.reg = r
	r.instances[in] = struct{}{}
	r.inited = true
}

// exit closes one instance (FLBPluginExitCtx); an instance closed already
// is left alone.
func (l *lifecycle) exit(in *instance) {
	l.mu.Lock()
	_, open := in.reg.instances[in]
	delete(in.reg.instances, in)
	l.mu.Unlock()
	if open {
		in.close()
	}
}

// unregister ends the registration of def: it closes the instances
// FLBPluginExitCtx did not (Fluent Bit 1.9 calls ExitCtx with one
// instance's context only, src/proxy/go/go.c at v1.9.10). A hot reload's
// registration that ends without an instance is a reload that failed: the
// pipeline it was to replace goes on, its stop called off.
func (l *lifecycle) unregister(def unsafe.Pointer) {
	l.mu.Lock()
	var r *registration
	for i, reg := range l.regs {
		if reg.def == def {
			r = reg
			l.regs = append(l.regs[:i], l.regs[i+1:]...)
			break
		}
	}
	if r == nil {
		l.mu.Unlock()
		return
	}
	if r.reload && !r.inited {
		for _, old := range r.replaces {
			if old.stop.cancel() {
				for in := range old.instances {
					in.log.Infof("the hot reload failed: this pipeline goes on, its stop called off")
				}
			}
		}
	}
	instances := r.instances
	r.instances = map[*instance]struct{}{}
	l.mu.Unlock()
	for in := range instances {
		in.close()
	}
	r.stop.end()
}

// signalled begins the stop of every registration: Fluent Bit was told to
// stop.
func (l *lifecycle) signalled(sig syscall.Signal) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, r := range l.regs {
		r.beginStop(signalName(sig))
	}
}

// beginStop begins r's stop, unless it began already, and says so through
// each of its instances. Under lifecycle.mu, which ExitCtx takes too:
// nothing logs through an instance once it is closed.
func (r *registration) beginStop(why string) bool {
	grace, ok := r.stop.begin()
	if !ok {
		return false
	}
	limit := fmt.Sprintf("within Grace %v", grace)
	if grace < 0 {
		limit = "without limit (Grace -1)"
	}
	for in := range r.instances {
		in.log.Infof("Fluent Bit is stopping (%s): flushes go on while the server takes data, %s; one that makes no progress for %v is cut and returns RETRY",
			why, limit, stallBound)
	}
	return true
}

// signalName names a signal as Fluent Bit's log does.
func signalName(sig syscall.Signal) string {
	switch sig {
	case syscall.SIGTERM:
		return "SIGTERM"
	case syscall.SIGINT:
		return "SIGINT"
	case syscall.SIGQUIT:
		return "SIGQUIT"
	case syscall.SIGHUP:
		return "SIGHUP"
	}
	return sig.String()
}

// The signals the plugin watches where Fluent Bit handles them: those
// that stop it, and SIGHUP and SIGCONT, after which Fluent Bit 2.1 and
// later install their handlers anew (flbws_rewatch).
var watchedSignals = []syscall.Signal{syscall.SIGTERM, syscall.SIGINT, syscall.SIGQUIT, syscall.SIGHUP, syscall.SIGCONT}

// rewatchEvery is how often the handlers are checked for having been
// replaced by other means than a signal the plugin wraps.
const rewatchEvery = time.Second

var (
	watchOnce sync.Once
	// signalPipe carries a byte from the signal handler; it stays open for
	// the life of the process (a write to a pipe without a reader raises
	// SIGPIPE).
	signalPipe [2]*os.File
)

// watchSignals learns when Fluent Bit is told to stop. Fluent Bit tells a
// plugin nothing until it has joined the plugin's workers, after its grace
// period, so a flush blocked on a server that does not answer would hold
// it past any bound. The plugin's handler runs before Fluent Bit's own,
// which it calls; signals Fluent Bit leaves to the default (or ignores)
// are left alone.
func watchSignals(log logger) {
	watchOnce.Do(func() {
		r, w, err := os.Pipe()
		if err == nil {
			err = syscall.SetNonblock(int(w.Fd()), true)
		}
		if err != nil {
			log.Warnf("cannot watch for SIGTERM (%v): at shutdown a flush may take up to connect_timeout or write_timeout", err)
			return
		}
		signalPipe = [2]*os.File{r, w}
		C.flbws_set_signal_fd(C.int(w.Fd()))
		for _, sig := range watchedSignals {
			if C.flbws_wrap(C.int(sig)) < 0 {
				log.Warnf("cannot watch for %v: at shutdown a flush may take up to connect_timeout or write_timeout", sig)
			}
		}
		// Nothing is logged here: this outlives the instance whose logger
		// Init gave (a hot reload frees it).
		go func() {
			var b [1]byte
			for {
				if _, err := r.Read(b[:]); err != nil {
					return
				}
				life.signalled(syscall.Signal(b[0]))
			}
		}()
		go func() {
			for range time.Tick(rewatchEvery) {
				C.flbws_rewatch()
			}
		}()
	})
}

// rewatch puts back the handlers Fluent Bit replaced, now.
func rewatch() int { return int(C.flbws_rewatch()) }

// stallBound is how long a transfer may make no progress once Fluent Bit
// stops: then it is cut (RETRY: the chunk stays Fluent Bit's) and later
// flushes to its endpoint fail at once. With Workers 0 Fluent Bit counts
// its grace period only once the flush it runs has returned, so a flush
// that stalls as Fluent Bit stops adds this to Grace: it is kept well
// under a second. One that stalled before is cut at the watcher's first
// look (stallBound/5).
const stallBound = 500 * time.Millisecond

// Why a transfer was cut because Fluent Bit stops.
var (
	errStopping  = errors.New("Fluent Bit is stopping: cut short, the chunk stays Fluent Bit's")
	errStalled   = fmt.Errorf("%w (no progress for %v)", errStopping, stallBound)
	errGraceOver = fmt.Errorf("%w (its grace period is over)", errStopping)
)

// stop is how the transfers of one registration end when Fluent Bit stops
// its pipeline (a signal, or a hot reload replacing it). Fluent Bit goes
// on flushing what it holds during its grace period (Grace, read from its
// configuration), then joins its workers, waiting for any flush still
// running however long. So, once stop begins: a transfer that makes
// progress (the socket takes bytes, the server's frames and pongs come
// in) goes on; one that makes none for stallBound is cut, and later
// flushes to that endpoint fail at once; at the end of Grace whatever is
// still in flight is cut and later flushes fail at once. A cut transfer
// returns RETRY: the chunk stays Fluent Bit's.
type stop struct {
	grace time.Duration // negative: Grace -1, no limit

	mu      sync.Mutex
	flights map[*flight]struct{}
	begun   time.Time // zero until stop begins
	over    bool      // the grace period is over
	era     int       // counts begin and cancel: a stall cut holds for its era only
	ended   bool      // the registration ended
	timer   *time.Timer
	quit    chan struct{} // ends the watcher
}

func newStop(grace time.Duration) *stop {
	return &stop{grace: grace, flights: map[*flight]struct{}{}}
}

// setGrace sets the grace period of a stop not begun yet.
func (s *stop) setGrace(grace time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.begun.IsZero() {
		s.grace = grace
	}
}

// begin starts the stop, unless it began already; it reports whether it
// did, and the grace period.
func (s *stop) begin() (time.Duration, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.begun.IsZero() || s.ended {
		return s.grace, false
	}
	s.begun = time.Now()
	s.era++
	for fl := range s.flights {
		fl.baseline()
	}
	if s.grace >= 0 {
		era := s.era
		s.timer = time.AfterFunc(s.grace, func() { s.expire(era) })
	}
	s.quit = make(chan struct{})
	go s.watch(s.quit)
	return s.grace, true
}

// cancel calls off a stop that began (a hot reload that failed): the
// pipeline goes on as before. It reports whether there was one.
func (s *stop) cancel() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.begun.IsZero() || s.over {
		return false
	}
	s.halt()
	s.begun = time.Time{}
	s.era++
	return true
}

// end is the end of the registration: the stop's timer and watcher go.
func (s *stop) end() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.halt()
	s.ended = true
}

func (s *stop) halt() {
	if s.timer != nil {
		s.timer.Stop()
		s.timer = nil
	}
	if s.quit != nil {
		close(s.quit)
		s.quit = nil
	}
}

// expire ends the grace period of the stop of that era: every transfer
// still in flight is cut.
func (s *stop) expire(era int) {
	s.mu.Lock()
	if s.era != era || s.begun.IsZero() {
		s.mu.Unlock()
		return
	}
	s.over = true
	cut := make([]*flight, 0, len(s.flights))
	for fl := range s.flights {
		cut = append(cut, fl)
	}
	s.mu.Unlock()
	for _, fl := range cut {
		fl.cancel(errGraceOver)
	}
}

// watch cuts, while the stop lasts, each transfer that made no progress
// for stallBound.
func (s *stop) watch(quit <-chan struct{}) {
	tick := time.NewTicker(stallBound / 5)
	defer tick.Stop()
	for {
		select {
		case <-quit:
			return
		case <-tick.C:
		}
		now := time.Now()
		var cut []*flight
		s.mu.Lock()
		for fl := range s.flights {
			if fl.stalled(now) {
				cut = append(cut, fl)
			}
		}
		s.mu.Unlock()
		for _, fl := range cut {
			fl.cancel(errStalled)
		}
	}
}

// stopping tells whether the stop began, and in which era.
func (s *stop) stopping() (era int, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.era, !s.begun.IsZero()
}

// takeoff starts a transfer under the stop: errGraceOver once the grace
// period is over.
func (s *stop) takeoff() (*flight, error) {
	ctx, cancel := context.WithCancelCause(context.Background())
	fl := &flight{ctx: ctx, cancel: cancel, stop: s, started: time.Now()}
	fl.seenAt = fl.started
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.over {
		cancel(errGraceOver)
		return nil, errGraceOver
	}
	if !s.ended {
		s.flights[fl] = struct{}{}
	}
	return fl, nil
}

// flight is one transfer under a stop: a Send to one endpoint. Its context
// is cut when the stop cuts it; the TCP connection it moves bytes on shows
// whether it makes progress.
type flight struct {
	ctx     context.Context
	cancel  context.CancelCauseFunc
	stop    *stop
	started time.Time

	mu     sync.Mutex
	nc     *meteredConn
	seen   progress  // the watcher's: what it saw last
	seenAt time.Time // and since when
}

// track makes nc the connection whose progress the flight's is.
func (fl *flight) track(nc *meteredConn) {
	fl.mu.Lock()
	fl.nc = nc
	fl.mu.Unlock()
}

// land ends the flight.
func (fl *flight) land() {
	fl.stop.mu.Lock()
	delete(fl.stop.flights, fl)
	fl.stop.mu.Unlock()
	fl.cancel(nil)
}

// mark is what the flight's connection moved so far.
func (fl *flight) mark() progress {
	fl.mu.Lock()
	p := progress{nc: fl.nc}
	fl.mu.Unlock()
	if p.nc != nil {
		p.read, p.written, p.queued = p.nc.progress()
	}
	return p
}

// baseline is where the watcher starts from when the stop begins: what
// the connection moved so far, last seen moving when it last read or
// wrote. A transfer stalled long before is cut at the first look that
// finds it still. Under stop.mu.
func (fl *flight) baseline() {
	fl.seen, fl.seenAt = fl.mark(), fl.started
	if fl.seen.nc != nil {
		if t := time.Unix(0, fl.seen.nc.active.Load()); t.After(fl.seenAt) {
			fl.seenAt = t
		}
	}
}

// stalled tells whether the flight made no progress since stallBound
// before now. Under stop.mu.
func (fl *flight) stalled(now time.Time) bool {
	p := fl.mark()
	if p != fl.seen {
		fl.seen, fl.seenAt = p, now
		return false
	}
	return now.Sub(fl.seenAt) >= stallBound
}

// progress is what a connection moved so far: a change is progress.
type progress struct {
	nc                    *meteredConn
	read, written, queued int64
}

// meteredConn is a TCP connection that counts the bytes it moves, so that
// a stop can tell a transfer that progresses from one that stalls.
type meteredConn struct {
	net.Conn
	read, written atomic.Int64
	active        atomic.Int64 // when it last read or wrote a byte, Unix nanoseconds
}

func (c *meteredConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.moved(&c.read, n)
	return n, err
}

func (c *meteredConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.moved(&c.written, n)
	return n, err
}

func (c *meteredConn) moved(count *atomic.Int64, n int) {
	if n > 0 {
		count.Add(int64(n))
		c.active.Store(time.Now().UnixNano())
	}
}

// progress is what the connection read and wrote so far, and what of it
// still waits in the socket's send queue (SIOCOUTQ: written, not yet
// acknowledged by the server's side). A server that reads makes the queue
// shrink even while one large write blocks.
func (c *meteredConn) progress() (read, written, queued int64) {
	read, written = c.read.Load(), c.written.Load()
	sc, ok := c.Conn.(syscall.Conn)
	if !ok {
		return read, written, 0
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return read, written, 0
	}
	raw.Control(func(fd uintptr) {
		var n C.int
		if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, fd, syscall.TIOCOUTQ, uintptr(unsafe.Pointer(&n))); errno == 0 {
			queued = int64(n)
		}
	})
	return read, written, queued
}
