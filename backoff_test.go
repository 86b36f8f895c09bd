package main

import (
	"bufio"
	"errors"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/out-websocket/out_websocket/internal/wstest"
)

// fakeClock is a clock the test moves by hand.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time            { return c.t }
func (c *fakeClock) add(d time.Duration)       { c.t = c.t.Add(d) }
func newFakeClock() *fakeClock                 { return &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)} }
func fullJitter(d time.Duration) time.Duration { return d }

// TestBackoffDelay doubles from 100 ms to a 30 s cap, the upper half of
// each wait random.
func TestBackoffDelay(t *testing.T) {
	for _, tc := range []struct {
		failures int
		lo, hi   time.Duration
	}{
		{1, 50 * time.Millisecond, 100 * time.Millisecond},
		{2, 100 * time.Millisecond, 200 * time.Millisecond},
		{5, 800 * time.Millisecond, 1600 * time.Millisecond},
		{9, 12800 * time.Millisecond, 25600 * time.Millisecond},
		{10, 15 * time.Second, 30 * time.Second},
		{40, 15 * time.Second, 30 * time.Second},
		{100000, 15 * time.Second, 30 * time.Second},
	} {
		b := newBackoff("ws://x/", &recLogger{})
		b.failures = tc.failures
		b.jitter = func(time.Duration) time.Duration { return 0 }
		if d := b.delay(); d != tc.lo {
			t.Errorf("failure %d, no jitter: %v, want %v", tc.failures, d, tc.lo)
		}
		b.jitter = fullJitter
		if d := b.delay(); d != tc.hi {
			t.Errorf("failure %d, full jitter: %v, want %v", tc.failures, d, tc.hi)
		}
		b.jitter = newBackoff("", nil).jitter
		for range 100 {
			if d := b.delay(); d < tc.lo || d > tc.hi {
				t.Fatalf("failure %d: %v, want %v to %v", tc.failures, d, tc.lo, tc.hi)
			}
		}
	}
}

// TestBackoffStates walks an outage: Sends fail fast until the wait is
// over, one Send at a time probes, and the log says once that the server
// is down and once that it is back.
func TestBackoffStates(t *testing.T) {
	clock := newFakeClock()
	log := &recLogger{}
	b := newBackoff("ws://logs/", log)
	b.now, b.jitter = clock.now, fullJitter
	refused := errors.New("connection refused")

	if err := b.allow(); err != nil {
		t.Fatalf("up: %v", err)
	}
	b.failure(refused)
	b.failure(refused) // a concurrent Send failing at the same moment
	if b.failures != 1 {
		t.Fatalf("%d failures counted for one moment, want 1", b.failures)
	}
	for i := range 5 {
		for range 3 { // flushes during the wait fail without dialing
			if !b.waiting() {
				t.Fatalf("round %d: not waiting during the wait", i)
			}
			if err := b.allow(); !errors.Is(err, errServerDown) {
				t.Fatalf("round %d, during the wait: %v, want errServerDown", i, err)
			}
			clock.add(b.delay() / 4)
		}
		clock.add(b.next.Sub(clock.now()))
		if b.waiting() {
			t.Fatalf("round %d: waiting after the wait", i)
		}
		if err := b.allow(); err != nil {
			t.Fatalf("round %d, after the wait: %v", i, err)
		}
		if !b.waiting() {
			t.Fatalf("round %d: not waiting while a Send probes", i)
		}
		if err := b.allow(); !errors.Is(err, errServerDown) {
			t.Fatalf("round %d, a second probe: %v, want errServerDown", i, err)
		}
		b.failure(refused)
	}
	clock.add(b.next.Sub(clock.now()))
	if err := b.allow(); err != nil {
		t.Fatal(err)
	}
	b.success()
	b.success()
	if err := b.allow(); err != nil || b.waiting() {
		t.Fatalf("back up: %v, waiting %v", err, b.waiting())
	}
	if n := log.count("warn", "cannot reach ws://logs/: connection refused"); n != 1 {
		t.Errorf("%d warnings that the server is down, want 1", n)
	}
	if n := log.count("info", "reachable again after 6.3s and 6 failed"); n != 1 {
		t.Errorf("%d lines that it is back, want 1: %q", n, log.all())
	}
	b.failure(refused)
	if n := log.count("warn", "cannot reach"); n != 2 {
		t.Errorf("a second outage: %d warnings in all, want 2", n)
	}
}

// TestClientBackoff: while the server is down Sends fail without dialing;
// once it is back the next Send after the wait delivers, and the outage
// took one warning and one info line, not one per flush.
func TestClientBackoff(t *testing.T) {
	var up atomic.Bool
	var dials atomic.Int32
	url := wstest.RawServer(t, func(c net.Conn, br *bufio.Reader) {
		dials.Add(1)
		if !up.Load() {
			return // hang up at once: the handshake fails
		}
		if _, err := wstest.UpgradeByHand(c, br, wstest.AcceptKey); err != nil {
			return
		}
		wstest.DiscardFrames(c, br)
	})
	c, log := newTestClient(t, testConfig(url))
	clock := newFakeClock()
	c.backoff.now, c.backoff.jitter = clock.now, fullJitter

	if err := c.Send(websocket.TextMessage, each([][]byte{[]byte("x")})); err == nil || errors.Is(err, errServerDown) {
		t.Fatalf("first Send: %v, want the handshake's error", err)
	}
	for range 10 {
		if err := c.Send(websocket.TextMessage, each([][]byte{[]byte("x")})); !errors.Is(err, errServerDown) {
			t.Fatalf("Send during the wait: %v, want errServerDown", err)
		}
	}
	if n := dials.Load(); n != 1 {
		t.Fatalf("%d connection attempts, want 1", n)
	}
	up.Store(true)
	clock.add(minBackoff)
	if err := c.Send(websocket.TextMessage, each([][]byte{[]byte("x")})); err != nil {
		t.Fatalf("Send after the wait: %v", err)
	}
	if w, i := log.count("warn", "cannot reach"), log.count("info", "reachable again"); w != 1 || i != 1 {
		t.Errorf("%d warnings and %d infos about the outage, want 1 and 1", w, i)
	}
}
