package main

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"
)

// Reconnect backoff: the first wait after a failure, and the longest.
const (
	minBackoff = 100 * time.Millisecond
	maxBackoff = 30 * time.Second
)

// errServerDown marks a Send that failed at once, without dialing, because
// the server failed recently and the backoff wait is not over. The backoff
// has already logged the outage; callers may log these at debug level.
var errServerDown = errors.New("server down")

// backoff spaces out connection attempts to a server that is down, across
// Sends: until the wait is over Send fails at once, so Fluent Bit's retries
// do not storm the server, and the log says once that it went down and
// once that it came back instead of once per flush.
type backoff struct {
	url string
	log logger
	// meanwhile says what flushes do while the server is down.
	meanwhile string
	min, max  time.Duration
	now       func() time.Time
	// jitter returns a random duration in [0, d]; tests make it fixed.
	jitter func(d time.Duration) time.Duration

	mu        sync.Mutex
	failures  int // consecutive failed attempts; 0 while the server is up
	downSince time.Time
	next      time.Time // no attempt before this
	probing   bool      // while down, one Send at a time tries to connect
	lastErr   error
}

func newBackoff(url string, log logger) *backoff {
	return &backoff{
		url: url, log: log, meanwhile: "flushes fail at once meanwhile", min: minBackoff, max: maxBackoff, now: time.Now,
		jitter: func(d time.Duration) time.Duration { return rand.N(d + 1) },
	}
}

// allow says whether a Send may connect now. While the server is down only
// one Send at a time tries, and only once the wait is over; the others get
// an error wrapping errServerDown.
func (b *backoff) allow() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.failures == 0 {
		return nil
	}
	now := b.now()
	if b.probing || now.Before(b.next) {
		wait := max(b.next.Sub(now), 0).Round(time.Millisecond)
		return fmt.Errorf("%w: %d connection attempts to %s failed in %v (last: %v); next attempt in %v",
			errServerDown, b.failures, b.url, now.Sub(b.downSince).Round(time.Millisecond), b.lastErr, wait)
	}
	b.probing = true
	return nil
}

// waiting tells, without claiming an attempt, whether allow would refuse
// now: the server is down and its wait not over, or another Send tries.
func (b *backoff) waiting() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.failures > 0 && (b.probing || b.now().Before(b.next))
}

// release ends an attempt allow granted that neither failed nor
// succeeded (cut because Fluent Bit stops): the next may try at once.
func (b *backoff) release() {
	b.mu.Lock()
	b.probing = false
	b.mu.Unlock()
}

// failure records a failed attempt and sets the wait before the next one.
func (b *backoff) failure(err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.probing = false
	now := b.now()
	// Sends that failed together while the server was up count once.
	if now.Before(b.next) {
		return
	}
	b.failures++
	b.lastErr = err
	if b.failures == 1 {
		b.downSince = now
		b.log.Warnf("cannot reach %s: %v; trying again with backoff (up to %v), %s", b.url, err, b.max, b.meanwhile)
	}
	wait := b.delay()
	b.next = now.Add(wait)
	b.log.Debugf("connection attempt %d to %s failed: %v; next attempt in %v", b.failures, b.url, err, wait.Round(time.Millisecond))
}

// success records a chunk delivered; after failures it logs the recovery.
func (b *backoff) success() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.probing = false
	if b.failures == 0 {
		return
	}
	b.log.Infof("%s is reachable again after %v and %d failed connection attempts",
		b.url, b.now().Sub(b.downSince).Round(time.Millisecond), b.failures)
	b.failures, b.next, b.lastErr = 0, time.Time{}, nil
}

// delay is the wait after the current failure: min doubled per consecutive
// failure up to max, its upper half random so that many clients of one
// server do not come back in step.
func (b *backoff) delay() time.Duration {
	d := b.max
	if shift := b.failures - 1; shift < 32 && b.min<<shift < b.max {
		d = b.min << shift
	}
	return d/2 + b.jitter(d/2)
}
