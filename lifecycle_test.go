package main

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"unsafe"

	"github.com/fluent/fluent-bit-go/output"
	"github.com/out-websocket/out_websocket/internal/wstest"
)

// newDef stands for the def Fluent Bit registers the plugin with.
func newDef() unsafe.Pointer { return unsafe.Pointer(new([64]byte)) }

// addTestInstance initialises an instance of r sending to url, as
// FLBPluginInit does, and returns it with its log.
func addTestInstance(t *testing.T, l *lifecycle, r *registration, url string) (*instance, *recLogger) {
	t.Helper()
	cfg, err := loadConfig(mapSource{"uri": url}, coreEndpoint{}, "")
	if err != nil {
		t.Fatal(err)
	}
	log := &recLogger{}
	in, err := newInstance(cfg, log, noMetrics{}, r.stop)
	if err != nil {
		t.Fatal(err)
	}
	l.add(r, in)
	t.Cleanup(func() { l.exit(in) })
	return in, log
}

func flushOK(t *testing.T, in *instance, what string) {
	t.Helper()
	if got := in.flush(referenceChunk(t), "tag"); got != output.FLB_OK {
		t.Errorf("%s: flush returned %d, want FLB_OK", what, got)
	}
}

// A hot reload whose new configuration Fluent Bit rejects registers the
// plugin for the new pipeline, then unregisters that registration while
// the old pipeline runs: the old instances go on delivering, their stop
// called off.
func TestFailedReloadKeepsInstances(t *testing.T) {
	srv := wstest.StartWSServer(t, wstest.WSOptions{})
	var l lifecycle
	oldDef := newDef()
	old := l.register(oldDef)
	t.Cleanup(func() { l.unregister(oldDef) })
	in, log := addTestInstance(t, &l, old, srv.URL())
	flushOK(t, in, "before the reload")

	l.preRegister(true)
	def := newDef()
	l.register(def)
	if _, stopping := old.stop.stopping(); !stopping {
		t.Error("the reload's registration did not begin the old pipeline's stop")
	}
	l.unregister(def)
	if _, stopping := old.stop.stopping(); stopping {
		t.Error("the failed reload left the old pipeline stopping")
	}
	flushOK(t, in, "after the failed reload")
	if log.count("info", "the hot reload failed") != 1 {
		t.Errorf("the log does not say the reload failed and the pipeline goes on:\n%q", log.all())
	}
}

// FLBPluginUnregister closes the instances of its own registration only,
// and those ExitCtx did not close.
func TestUnregisterClosesItsOwn(t *testing.T) {
	srv := wstest.StartWSServer(t, wstest.WSOptions{})
	var l lifecycle
	a, b := newDef(), newDef()
	ra, rb := l.register(a), l.register(b)
	inA, _ := addTestInstance(t, &l, ra, srv.URL())
	inB, _ := addTestInstance(t, &l, rb, srv.URL())
	l.unregister(b)
	t.Cleanup(func() { l.unregister(a) })
	flushOK(t, inA, "the other registration's instance")
	if got := inB.flush(referenceChunk(t), "tag"); got != output.FLB_RETRY {
		t.Errorf("an unregistered instance's flush returned %d, want FLB_RETRY", got)
	}
	if got := l.registrationOf(a); got != ra {
		t.Errorf("registrationOf finds %p, want %p", got, ra)
	}
}

// A stop belongs to the registrations it found: Fluent Bit embedded as a
// library, stopped on SIGINT and started again, registers the plugin
// anew, and that pipeline is not stopping.
func TestStopBelongsToItsRegistrations(t *testing.T) {
	var l lifecycle
	first := newDef()
	r := l.register(first)
	l.signalled(syscall.SIGINT)
	if _, stopping := r.stop.stopping(); !stopping {
		t.Fatal("SIGINT did not begin the stop")
	}
	l.unregister(first)
	nextDef := newDef()
	next := l.register(nextDef)
	t.Cleanup(func() { l.unregister(nextDef) })
	if _, stopping := next.stop.stopping(); stopping {
		t.Error("a registration made after the stop is stopping")
	}
	if _, err := next.stop.takeoff(); err != nil {
		t.Errorf("a transfer of the new registration: %v", err)
	}
}

// A hot reload begins the stop of the pipelines before it, not its own.
func TestReloadStopsTheOld(t *testing.T) {
	var l lifecycle
	oldDef, def := newDef(), newDef()
	old := l.register(oldDef)
	l.preRegister(true)
	r := l.register(def)
	t.Cleanup(func() { l.unregister(oldDef); l.unregister(def) })
	if _, stopping := old.stop.stopping(); !stopping {
		t.Error("the old pipeline is not stopping")
	}
	if _, stopping := r.stop.stopping(); stopping {
		t.Error("the new pipeline is stopping")
	}
}

// rewatchChild is set in the process TestRewatchGoHandlers starts.
const rewatchChild = "OUT_WEBSOCKET_REWATCH_CHILD"

// TestRewatchGoHandlers: once Go's handler for SIGSEGV is replaced, as
// Fluent Bit's flb_signal_init does on SIGHUP, rewatch puts it back, and a
// nil dereference is again a panic that recover catches, not the end of
// the process. Run in a process of its own: without rewatch it dies.
func TestRewatchGoHandlers(t *testing.T) {
	if mode := os.Getenv(rewatchChild); mode != "" {
		replaceSIGSEGV(t)
		if mode == "rewatch" && rewatch() == 0 {
			fmt.Println("rewatch put nothing back")
		}
		fmt.Println(nilDereference())
		return
	}
	for _, mode := range []string{"rewatch", "none"} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestRewatchGoHandlers$")
		cmd.Env = append(os.Environ(), rewatchChild+"="+mode)
		out, err := cmd.CombinedOutput()
		recovered := err == nil && strings.Contains(string(out), "recovered: ")
		if recovered != (mode == "rewatch") {
			t.Errorf("%s: recovered %v (err %v):\n%s", mode, recovered, err, out)
		}
	}
}

// replaceSIGSEGV sets SIGSEGV to the default action with the raw system
// call, as any code outside Go would replace Go's handler. All-zero is
// SIG_DFL with no flags and an empty mask in every layout of the kernel's
// struct sigaction.
func replaceSIGSEGV(t *testing.T) {
	var act [4]uintptr
	if _, _, errno := syscall.RawSyscall6(syscall.SYS_RT_SIGACTION, uintptr(syscall.SIGSEGV),
		uintptr(unsafe.Pointer(&act)), 0, 8, 0, 0); errno != 0 {
		t.Fatal(errno)
	}
}

func nilDereference() (msg string) {
	defer func() { msg = fmt.Sprint("recovered: ", recover()) }()
	var p *int
	*p = 1
	return "not reached"
}
