package main

import (
	"fmt"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

// printed is one line the relay printed, with the worker it printed as
// and the OS thread it printed on.
type printed struct {
	worker unsafe.Pointer
	level  int
	msg    string
	tid    int
}

// relayRecorder is a lineRelay whose print records; block, when set, holds
// each print until a value is sent on it.
type relayRecorder struct {
	*lineRelay
	mu      sync.Mutex
	lines   []printed
	setup   int // the thread setup ran on
	entered chan struct{}
	block   chan struct{}
}

func newRelayRecorder(block bool) *relayRecorder {
	rec := &relayRecorder{entered: make(chan struct{}, 1)}
	if block {
		rec.block = make(chan struct{})
	}
	rec.lineRelay = newLineRelay(func() { rec.setup = syscall.Gettid() }, func(w unsafe.Pointer, level int, msg string) {
		select {
		case rec.entered <- struct{}{}:
		default:
		}
		if rec.block != nil {
			<-rec.block
		}
		rec.mu.Lock()
		rec.lines = append(rec.lines, printed{w, level, msg, syscall.Gettid()})
		rec.mu.Unlock()
	})
	return rec
}

func (rec *relayRecorder) all() []printed {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]printed(nil), rec.lines...)
}

// TestRelayOrderOnOneThread: lines sent from many goroutines are printed
// each with its sink's worker, in the order each goroutine sent them, all
// on the one thread the relay set up (where flb_worker_ctx is set).
func TestRelayOrderOnOneThread(t *testing.T) {
	const goroutines, perGoroutine = 8, 300
	rec := newRelayRecorder(false)
	w1, w2 := new(byte), new(byte)
	sinks := []*logSink{rec.sink(unsafe.Pointer(w1)), rec.sink(unsafe.Pointer(w2))}
	var wg sync.WaitGroup
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < perGoroutine; i++ {
				if !sinks[g%2].send(levelInfo, fmt.Sprintf("g%d %d", g, i)) {
					t.Errorf("send refused on an open sink")
					return
				}
			}
		}()
	}
	wg.Wait()
	for _, s := range sinks {
		if !s.flush() {
			t.Fatalf("flush did not return within %v", rec.wait)
		}
	}

	lines := rec.all()
	if len(lines) != goroutines*perGoroutine {
		t.Fatalf("%d lines printed, want %d", len(lines), goroutines*perGoroutine)
	}
	next := make([]int, goroutines)
	for _, l := range lines {
		var g, i int
		if _, err := fmt.Sscanf(l.msg, "g%d %d", &g, &i); err != nil {
			t.Fatalf("line %q: %v", l.msg, err)
		}
		if i != next[g] {
			t.Fatalf("goroutine %d: line %d printed where %d was next", g, i, next[g])
		}
		next[g]++
		if l.worker != sinks[g%2].worker {
			t.Fatalf("line %q printed as worker %p, its sink's is %p", l.msg, l.worker, sinks[g%2].worker)
		}
		if l.tid != rec.setup {
			t.Fatalf("line %q printed on thread %d, the relay set up thread %d", l.msg, l.tid, rec.setup)
		}
	}
}

// TestRelayFlushWaitsForLines: flush returns only once the lines sent
// before it are printed (Init's end, an exit), and waitQueued at once
// when the sink has none.
func TestRelayFlushWaitsForLines(t *testing.T) {
	rec := newRelayRecorder(true)
	rec.wait = time.Minute
	s := rec.sink(unsafe.Pointer(new(byte)))
	other := rec.sink(unsafe.Pointer(new(byte)))

	s.send(levelWarn, "first")
	<-rec.entered
	// other has nothing queued: it does not wait for the stuck relay.
	returned := make(chan struct{})
	go func() { other.waitQueued(); close(returned) }()
	select {
	case <-returned:
	case <-time.After(10 * time.Second):
		t.Fatal("waitQueued waited for another sink's line")
	}
	flushed := make(chan bool)
	go func() { flushed <- s.flush() }()
	select {
	case <-flushed:
		t.Fatal("flush returned while its line was still being printed")
	case <-time.After(50 * time.Millisecond):
	}
	rec.block <- struct{}{}
	if !<-flushed {
		t.Fatal("flush timed out")
	}
	if got := rec.all(); len(got) != 1 || got[0].msg != "first" || got[0].level != levelWarn {
		t.Fatalf("printed %+v", got)
	}
}

// TestRelayCloseLetsGoOfTheWorker: after close no line is taken, and when
// the relay could not catch up within its bound the lines still queued are
// printed as no worker: Fluent Bit frees the worker after the exit.
func TestRelayCloseLetsGoOfTheWorker(t *testing.T) {
	rec := newRelayRecorder(true)
	rec.wait = 20 * time.Millisecond
	w := unsafe.Pointer(new(byte))
	s := rec.sink(w)
	s.send(levelInfo, "one")
	s.send(levelInfo, "two")
	<-rec.entered
	s.close() // times out: "one" is still being printed
	if s.send(levelInfo, "three") {
		t.Error("a closed sink took a line")
	}
	rec.block <- struct{}{}
	rec.block <- struct{}{}
	deadline := time.Now().Add(10 * time.Second)
	for len(rec.all()) < 2 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	got := rec.all()
	if len(got) != 2 || got[0].msg != "one" || got[0].worker != w || got[1].msg != "two" || got[1].worker != nil {
		t.Fatalf("printed %+v: want one as the worker, two as none", got)
	}

	// In time, close prints every line as the worker before it returns.
	rec2 := newRelayRecorder(false)
	s2 := rec2.sink(w)
	s2.send(levelInfo, "last")
	s2.close()
	if got := rec2.all(); len(got) != 1 || got[0].worker != w {
		t.Fatalf("printed %+v before close returned", got)
	}
}

// TestRelayDropsPastItsBound: while the relay is stuck, lines past
// maxRelayed are dropped, counted and reported, never blocking the sender.
func TestRelayDropsPastItsBound(t *testing.T) {
	rec := newRelayRecorder(true)
	s := rec.sink(unsafe.Pointer(new(byte)))
	s.send(levelInfo, "stuck")
	<-rec.entered
	for i := 0; i < maxRelayed+5; i++ {
		s.send(levelDebug, "more")
	}
	close(rec.block)
	if !s.flush() {
		t.Fatal("flush timed out")
	}
	got := rec.all()
	if len(got) != 1+maxRelayed+1 {
		t.Fatalf("%d lines printed, want %d", len(got), maxRelayed+2)
	}
	if got[1].level != levelWarn || !strings.Contains(got[1].msg, "5 log lines dropped") {
		t.Fatalf("second line %+v: want the drop reported", got[1])
	}
}
