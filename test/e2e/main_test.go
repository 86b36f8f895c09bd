// Package e2e runs the plugin end to end: out_websocket.so inside the test
// host (test/flbhost), sending to a wstest.WSServer.
package e2e

import (
	"testing"

	"github.com/out-websocket/out_websocket/internal/hosttest"
)

func TestMain(m *testing.M) { hosttest.Main(m) }
