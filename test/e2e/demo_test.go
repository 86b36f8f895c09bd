package e2e

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/out-websocket/out_websocket/internal/hosttest"
)

// TestDemo: `make demo`, as the README describes it, prints what the
// config's dummy input makes, one message a second's record, five of them;
// the demo reads the YAML config's dummy input alike. Not parallel: the
// receiver listens on the config's fixed 127.0.0.1:8700, as conf/ tests do.
func TestDemo(t *testing.T) {
	hosttest.PluginSO(t)
	tests := map[string]struct {
		cmd  []string
		want string // the record as the config's format writes it
	}{
		"make demo": {[]string{"make", "--no-print-directory", "demo"}, `,"message":"hello from out_websocket"}]`},
		"yaml": {[]string{"go", "run", "./test/demo", "-conf", "conf/fluent-bit.yaml", "-host", "test/flbhost/flbhost", "-plugin", "./out_websocket.so"},
			`,"message":"hello from out_websocket"}` + "\n"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			cmd := exec.Command(tt.cmd[0], tt.cmd[1:]...)
			cmd.Dir = hosttest.RepoRoot
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("%s: %v\n%s", strings.Join(tt.cmd, " "), err, out)
			}
			if n := strings.Count(string(out), tt.want); n != 5 || !strings.Contains(string(out), "demo: 5 message(s) arrived") {
				t.Errorf("%d records %q printed, want 5 and the closing line\n%s", n, tt.want, out)
			}
		})
	}
}
