package main

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// The connection tests' client and a logger that records what the client
// says; their servers are internal/wstest's.

// testTimeout bounds every wait in these tests, generously: a machine
// busy with other tests can starve a loopback server for seconds.
const testTimeout = 10 * time.Second

// testConfig is a connConfig for url whose timeouts only a stuck test
// reaches; tests of the timeouts set their own.
func testConfig(url string) connConfig {
	return connConfig{
		URL:            url,
		LogURL:         redact("uri", url),
		Header:         http.Header{},
		ConnectTimeout: testTimeout,
		WriteTimeout:   testTimeout,
		PingTimeout:    time.Second,
		// As the plugin's default.
		ConfirmDelivery: true,
	}
}

// newTestClient makes a client that is closed when the test ends and whose
// log is printed if the test fails.
func newTestClient(t *testing.T, cfg connConfig) (*client, *recLogger) {
	log := &recLogger{}
	c := newClient(cfg, log, newStop(defaultGrace))
	c.closeWait = 200 * time.Millisecond
	closeAtEnd(t, log, c.Close)
	return c, log
}

// closeAtEnd calls close when the test ends, and prints log if it failed.
func closeAtEnd(t *testing.T, log *recLogger, close func()) {
	t.Cleanup(func() {
		close()
		if t.Failed() {
			t.Logf("log:\n%s", strings.Join(log.all(), "\n"))
		}
	})
}

// recLogger keeps every line logged, prefixed with its level.
type recLogger struct {
	mu    sync.Mutex
	lines []string
}

func (l *recLogger) add(level, format string, args []any) {
	l.mu.Lock()
	l.lines = append(l.lines, level+": "+fmt.Sprintf(format, args...))
	l.mu.Unlock()
}

func (l *recLogger) Errorf(format string, args ...any) { l.add("error", format, args) }
func (l *recLogger) Warnf(format string, args ...any)  { l.add("warn", format, args) }
func (l *recLogger) Infof(format string, args ...any)  { l.add("info", format, args) }
func (l *recLogger) Debugf(format string, args ...any) { l.add("debug", format, args) }

func (l *recLogger) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.lines...)
}

// count counts the lines of a level that contain substr.
func (l *recLogger) count(level, substr string) int {
	n := 0
	for _, line := range l.all() {
		if strings.HasPrefix(line, level+": ") && strings.Contains(line, substr) {
			n++
		}
	}
	return n
}

// each is the messageStream of msgs, for Send.
func each(msgs [][]byte) messageStream {
	return func(write func([]byte, bool) error) error {
		for _, m := range msgs {
			if err := write(m, true); err != nil {
				return err
			}
		}
		return nil
	}
}
