package main

/*
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

static int flbws_stop_fd = -1;
static struct sigaction flbws_prev[NSIG];

// flbws_on_stop tells the plugin (one byte down a pipe, async-signal-safe)
// and then runs Fluent Bit's own handler, which does the real work.
static void flbws_on_stop(int sig, siginfo_t *info, void *uctx) {
	int saved = errno;
	unsigned char b = (unsigned char) sig;
	if (flbws_stop_fd >= 0) {
		ssize_t n = write(flbws_stop_fd, &b, 1);
		(void) n;
	}
	errno = saved;
	struct sigaction *p = &flbws_prev[sig];
	if (p->sa_flags & SA_SIGINFO) {
		p->sa_sigaction(sig, info, uctx);
	} else if (p->sa_handler != SIG_DFL && p->sa_handler != SIG_IGN) {
		p->sa_handler(sig);
	}
}

// flbws_watch_stop puts flbws_on_stop in front of the process's handler
// for sig, only where the process handles sig itself (Fluent Bit does, for
// SIGTERM, SIGINT and SIGQUIT): 1 when done, 0 when left alone, -1 on error.
static int flbws_watch_stop(int fd, int sig) {
	struct sigaction prev, sa;
	if (sig <= 0 || sig >= NSIG || sigaction(sig, NULL, &prev) != 0) {
		return -1;
	}
	if (!(prev.sa_flags & SA_SIGINFO) && (prev.sa_handler == SIG_DFL || prev.sa_handler == SIG_IGN)) {
		return 0;
	}
	flbws_stop_fd = fd;
	flbws_prev[sig] = prev;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = flbws_on_stop;
	sa.sa_mask = prev.sa_mask;
	// SA_ONSTACK: the signal may land on a Go thread, whose stack is small.
	sa.sa_flags = (prev.sa_flags | SA_SIGINFO | SA_ONSTACK) & ~SA_RESETHAND;
	return sigaction(sig, &sa, NULL) == 0 ? 1 : -1;
}
*/
import "C"

import (
	"context"
	"errors"
	"os"
	"sync"
	"syscall"
	"time"
)

// stopWait is how long connections may go on after Fluent Bit was told to
// stop. Then every connection still in use is cut, and each later flush
// gets stopWait of its own (client.flushBound): Fluent Bit flushes what it
// holds during its grace period, and a healthy server takes a chunk well
// within that, while one that hangs is cut (FLB_RETRY: the chunk stays
// Fluent Bit's), and after that cut the client fails flushes at once. Fluent Bit counts its grace period only from when its
// engine is free: with Workers 0 a flush holds the engine, so whatever a
// flush takes after the signal comes on top of Grace (see Shutdown in
// docs/configuration.md).
const stopWait = 500 * time.Millisecond

// errStopping fails what runs, or would start, once stopWait is over.
var errStopping = errors.New("Fluent Bit is stopping: cut short, the chunk stays Fluent Bit's")

// stopping is done stopWait after Fluent Bit got SIGTERM, SIGINT or
// SIGQUIT; beginStop starts that wait.
var stopping, beginStop = newStop(stopWait)

func newStop(wait time.Duration) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(context.Background())
	var once sync.Once
	return ctx, func() {
		once.Do(func() { time.AfterFunc(wait, func() { cancel(errStopping) }) })
	}
}

var watchOnce sync.Once

// stopPipe carries a byte from the signal handler; it stays open for the
// life of the process (a write to a pipe without a reader raises SIGPIPE).
var stopPipe [2]*os.File

// watchStopSignals learns when Fluent Bit is told to stop. Fluent Bit tells
// a plugin nothing until it has joined the plugin's workers, after its
// grace period, so a flush blocked on a server that does not answer would
// hold it past any bound. The plugin's handler runs before Fluent Bit's
// own, which it calls; signals Fluent Bit leaves to the default (or
// ignores) are left alone.
func watchStopSignals(log logger) {
	watchOnce.Do(func() {
		r, w, err := os.Pipe()
		if err != nil {
			log.Warnf("cannot watch for SIGTERM (%v): at shutdown a flush may take up to connect_timeout or write_timeout", err)
			return
		}
		fd := int(w.Fd())
		if err := syscall.SetNonblock(fd, true); err != nil {
			log.Warnf("cannot watch for SIGTERM (%v): at shutdown a flush may take up to connect_timeout or write_timeout", err)
			return
		}
		for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT, syscall.SIGQUIT} {
			if C.flbws_watch_stop(C.int(fd), C.int(sig)) < 0 {
				log.Warnf("cannot watch for %v: at shutdown a flush may take up to connect_timeout or write_timeout", sig)
			}
		}
		stopPipe = [2]*os.File{r, w}
		// Nothing is logged here: this outlives the instance whose logger
		// Init gave (a hot reload frees it); each client says it stops.
		go func() {
			var b [1]byte
			for {
				if _, err := r.Read(b[:]); err != nil {
					return
				}
				beginStop()
			}
		}()
	})
}
