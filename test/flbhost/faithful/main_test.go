// Package faithful tests the test host itself against Fluent Bit: each test
// pins one behaviour of Fluent Bit v5.1.1, driven by the C probe plugin.
package faithful

import (
	"testing"

	"github.com/out-websocket/out_websocket/internal/hosttest"
)

func TestMain(m *testing.M) { hosttest.Main(m) }
