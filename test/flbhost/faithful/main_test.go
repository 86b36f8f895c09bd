// Package faithful holds the test host's own tests, driven with the C probe
// plugin (test/flbhost/probe/probe.c). Each pins one behaviour of Fluent
// Bit v5.1.1 (docs/fluent-bit-go-abi.md) and would fail if the host were
// kinder than Fluent Bit.
package faithful

import (
	"testing"

	"github.com/out-websocket/out_websocket/internal/hosttest"
)

func TestMain(m *testing.M) { hosttest.Main(m) }
