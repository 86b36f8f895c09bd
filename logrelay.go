package main

import (
	"fmt"
	"runtime"
	"sync"
	"time"
	"unsafe"
)

// Fluent Bit's flb_log_print sends a line to its logger (Log_File or
// stderr, counted in fluentbit_logger_logs_total) only on a thread Fluent Bit
// knows: one whose flb_worker_ctx holds a worker. On any other thread,
// which is where the plugin's goroutines run, it writes to stderr. The
// relay prints such lines on one OS thread of its own that it makes a
// Fluent Bit thread: before each line it stores, in that thread's
// flb_worker_ctx, the worker the instance's Init ran with. A line logged
// on a thread with that same worker is printed there, once the relay has
// printed the instance's lines before it: one worker, one queue to the
// logger (in 2.x to 4.x each worker has a pipe of its own), so an
// instance's lines keep their order.

// maxRelayed bounds the lines waiting for the relay; past it lines are
// dropped and counted, as Fluent Bit's own log queue does.
const maxRelayed = 10000

// relayWait bounds how long a Fluent Bit thread waits for the relay to
// print an instance's lines (its exit, a line that must come after them);
// the relay normally takes microseconds.
const relayWait = 2 * time.Second

// relayLine is a line to print, or (done set) a mark whose channel is
// closed once every line queued before it is printed.
type relayLine struct {
	sink  *logSink
	level int
	msg   string
	done  chan struct{}
}

// lineRelay prints queued lines in order on one goroutine locked to its OS
// thread, through print, which gets the worker to print as (nil: none).
type lineRelay struct {
	print func(worker unsafe.Pointer, level int, msg string)
	setup func()        // runs first on the relay's locked thread
	wait  time.Duration // relayWait, shorter in tests

	start   sync.Once
	mu      sync.Mutex
	queue   []relayLine
	lines   int // lines (not marks) in queue
	dropped int
	wake    chan struct{}
}

func newLineRelay(setup func(), print func(worker unsafe.Pointer, level int, msg string)) *lineRelay {
	return &lineRelay{setup: setup, print: print, wait: relayWait, wake: make(chan struct{}, 1)}
}

// logSink is one instance's way into the relay, with the worker of the
// Fluent Bit config the instance belongs to.
type logSink struct {
	relay  *lineRelay
	worker unsafe.Pointer
	closed bool // under relay.mu: takes no more lines
	queued int  // under relay.mu: lines sent and not printed yet
	// detached: the worker may be gone (the instance's exit returned
	// without the relay having caught up); lines print as no worker.
	detached bool
}

func (r *lineRelay) sink(worker unsafe.Pointer) *logSink {
	r.start.Do(func() { go r.run() })
	return &logSink{relay: r, worker: worker}
}

func (r *lineRelay) push(l relayLine) {
	r.queue = append(r.queue, l)
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// send queues a line; false once the sink is closed.
func (s *logSink) send(level int, msg string) bool {
	r := s.relay
	r.mu.Lock()
	defer r.mu.Unlock()
	if s.closed {
		return false
	}
	if r.lines >= maxRelayed {
		r.dropped++
		return true
	}
	r.lines++
	s.queued++
	r.push(relayLine{sink: s, level: level, msg: msg})
	return true
}

// waitQueued waits, at most relayWait, until the sink's lines sent before
// are printed; at once when there are none.
func (s *logSink) waitQueued() {
	s.relay.mu.Lock()
	n := s.queued
	s.relay.mu.Unlock()
	if n > 0 {
		s.flush()
	}
}

// flush waits, at most relayWait, until every line sent before is printed.
func (s *logSink) flush() bool { return s.mark(false) }

// close takes no more lines and waits, at most relayWait, for those sent
// before: after it the worker, which Fluent Bit may free once the
// instance's exit returns, is no longer used.
func (s *logSink) close() { s.mark(true) }

func (s *logSink) mark(closing bool) bool {
	r := s.relay
	done := make(chan struct{})
	r.mu.Lock()
	if closing {
		s.closed = true
	}
	r.push(relayLine{done: done})
	r.mu.Unlock()

	t := time.NewTimer(r.wait)
	defer t.Stop()
	select {
	case <-done:
		return true
	case <-t.C:
		if closing {
			r.mu.Lock()
			s.detached = true
			r.mu.Unlock()
		}
		return false
	}
}

// next takes the first queued line, with what was dropped before it.
func (r *lineRelay) next() (relayLine, unsafe.Pointer, int, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.queue) == 0 {
		return relayLine{}, nil, 0, false
	}
	l := r.queue[0]
	r.queue[0] = relayLine{}
	r.queue = r.queue[1:]
	if len(r.queue) == 0 {
		r.queue = nil
	}
	var worker unsafe.Pointer
	dropped := 0
	if l.done == nil {
		r.lines--
		if !l.sink.detached {
			worker = l.sink.worker
		}
		dropped, r.dropped = r.dropped, 0
	}
	return l, worker, dropped, true
}

func (r *lineRelay) run() {
	// The thread stays the relay's for good: its flb_worker_ctx is set.
	runtime.LockOSThread()
	if r.setup != nil {
		r.setup()
	}
	for range r.wake {
		for {
			l, worker, dropped, ok := r.next()
			if !ok {
				break
			}
			if l.done != nil {
				close(l.done)
				continue
			}
			if dropped > 0 {
				r.print(worker, levelWarn, fmt.Sprintf("[output:%s] %d log lines dropped: the plugin logged faster than Fluent Bit's logger took them", pluginName, dropped))
			}
			r.print(worker, l.level, l.msg)
			r.mu.Lock()
			l.sink.queued--
			r.mu.Unlock()
		}
	}
}
