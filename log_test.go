package main

import (
	"testing"

	"github.com/fluent/fluent-bit-go/output"
)

// TestRecoverPanic: a panic in an exported function becomes a logged error
// and a return code, not an abort of the whole fluent-bit process.
func TestRecoverPanic(t *testing.T) {
	log := &recLogger{}
	flush := func() (ret int) {
		defer recoverPanic(log, "FLBPluginFlushCtx", &ret, output.FLB_RETRY)
		var m map[string]int
		m["boom"]++ // a nil map write panics
		return output.FLB_OK
	}
	if got := flush(); got != output.FLB_RETRY {
		t.Fatalf("returned %d, want FLB_RETRY", got)
	}
	if log.count("error", "recovered from a panic in FLBPluginFlushCtx: assignment to entry in nil map") != 1 {
		t.Errorf("log: %q", log.all())
	}
}
