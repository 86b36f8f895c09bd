package main

import (
	"fmt"
	"os"
	"runtime/debug"
	"time"
)

// logger is how the plugin speaks: Fluent Bit's own logger in production
// (flbLogger), a recorder in tests.
type logger interface {
	Errorf(format string, args ...any)
	Warnf(format string, args ...any)
	Infof(format string, args ...any)
	Debugf(format string, args ...any)
}

// stderrLogger prints where the api's logger is not reachable: at
// registration, before any instance exists, and in Fluent Bit 1.9. It goes
// through Fluent Bit's exported flb_log_print, else writes Fluent Bit's
// format to stderr itself.
type stderrLogger struct{ prefix string }

var levelNames = [...]string{levelError: "error", levelWarn: " warn", levelInfo: " info", levelDebug: "debug"}

func (l stderrLogger) print(level int, format string, args []any) {
	if corePrint(level, l.prefix+fmt.Sprintf(format, args...)) {
		return
	}
	now := time.Now()
	fmt.Fprintf(os.Stderr, "[%s.%03d] [%s] %s%s\n", now.Format("2006/01/02 15:04:05"), now.Nanosecond()/1e6,
		levelNames[level], l.prefix, fmt.Sprintf(format, args...))
}

func (l stderrLogger) Errorf(format string, args ...any) { l.print(levelError, format, args) }
func (l stderrLogger) Warnf(format string, args ...any)  { l.print(levelWarn, format, args) }
func (l stderrLogger) Infof(format string, args ...any)  { l.print(levelInfo, format, args) }
func (l stderrLogger) Debugf(format string, args ...any) { l.print(levelDebug, format, args) }

// recoverPanic turns a panic into a logged error and the given return code:
// an unrecovered Go panic aborts the whole fluent-bit process.
func recoverPanic(log logger, where string, ret *int, code int) {
	if r := recover(); r != nil {
		log.Errorf("recovered from a panic in %s: %v\n%s", where, r, debug.Stack())
		*ret = code
	}
}
