package e2e

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/out-websocket/out_websocket/internal/hosttest"
)

// The plugin finds the main config file, and with it a relative Upstream
// file beside it, in each form of -c that fluent-bit's getopt_long takes,
// from a working directory that is not the config's.
func TestConfigFileForms(t *testing.T) {
	t.Parallel()
	srvs, nodes := startNodes(t, 1)
	conf := upstreamSetup(t, nodes, "json_lines", 0)
	elsewhere := t.TempDir()
	rel, err := filepath.Rel(elsewhere, conf)
	if err != nil {
		t.Fatal(err)
	}
	chunks := hosttest.WriteChunks(t, "chunks.bin", seqChunks(0, 10, 10, seqSpec{})...)
	forms := map[string][]string{
		"--config abs": {"--config", conf},
		"--conf=rel":   {"--conf=" + rel},
		"-crel":        {"-c" + rel},
	}
	sent := 0
	for name, form := range forms {
		args := append([]string{"-e", hosttest.PluginSO(t)}, form...)
		args = append(args, faultRetryArgs...)
		args = append(args, "-I", chunks)
		r := hosttest.RunHostWith(t, hosttest.HostOptions{Timeout: 30 * time.Second, Dir: elsewhere}, args...)
		r.RequireOK(t)
		if s := r.Summary(t, "websocket_go.0"); s.OK != 1 {
			t.Errorf("%s: summary %+v, want the chunk sent\n%s", name, s, tail(r.Stderr, 20))
		}
		sent++
	}
	srvs[0].Stop(1000)
	if got := len(srvs[0].Messages()); got != sent {
		t.Errorf("the node got %d messages, want %d", got, sent)
	}
	if _, err := os.Stat(filepath.Join(elsewhere, "upstream.conf")); err == nil {
		t.Fatal("the upstream file is in the working directory too: the test proves nothing")
	}
}
