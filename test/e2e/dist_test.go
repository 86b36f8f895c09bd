package e2e

// The release artifacts of `make dist` as a user receives them: the right
// machine, loadable on glibc 2.17, exporting what Fluent Bit calls,
// stripped, free of the build machine's paths, the same bytes from an empty
// build cache, named for the VERSION they log and CHANGELOG.md describes,
// listed in SHA256SUMS, and delivering in every Fluent Bit release the test
// host plays. The README's tables of where they load agree with them.

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/out-websocket/out_websocket/internal/hosttest"
)

// maxGlibc is the newest glibc an artifact may need: CentOS 7's, the oldest
// a Fluent Bit package of 1.9 to 5.1 is built for (README: where they load).
const maxGlibc = "2.17"

// distArtifact is one line of dist/SHA256SUMS.
type distArtifact struct {
	path, version, arch string
	sum                 string
}

var distName = regexp.MustCompile(`^out_websocket-(.+)-linux-(amd64|arm64)\.so$`)

// distArtifacts reads dist/SHA256SUMS, which `make dist` (run by `make test`)
// writes, and checks that it names exactly one artifact per architecture, of
// one version, each with its true checksum.
func distArtifacts(t *testing.T) map[string]distArtifact {
	t.Helper()
	dir := filepath.Join(hosttest.RepoRoot, "dist")
	b, err := os.ReadFile(filepath.Join(dir, "SHA256SUMS"))
	if err != nil {
		t.Fatalf("no release artifacts (%v): run 'make dist' (make test does)", err)
	}
	arts := map[string]distArtifact{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		sum, name, ok := strings.Cut(sc.Text(), "  ")
		m := distName.FindStringSubmatch(name)
		if !ok || m == nil {
			t.Fatalf("SHA256SUMS line %q: want '<sha256>  out_websocket-<version>-linux-<arch>.so'", sc.Text())
		}
		a := distArtifact{path: filepath.Join(dir, name), version: m[1], arch: m[2], sum: sum}
		data, err := os.ReadFile(a.path)
		if err != nil {
			t.Fatal(err)
		}
		if got := sha256.Sum256(data); hex.EncodeToString(got[:]) != sum {
			t.Errorf("%s: SHA256SUMS says %s, the file is %x", name, sum, got)
		}
		if _, dup := arts[a.arch]; dup {
			t.Errorf("two %s artifacts in SHA256SUMS", a.arch)
		}
		arts[a.arch] = a
	}
	if len(arts) != 2 || arts["amd64"].version != arts["arm64"].version {
		t.Fatalf("SHA256SUMS lists %v; want one amd64 and one arm64 artifact of one version", arts)
	}
	return arts
}

// glibcNeeded is the newest GLIBC_x.y version the shared object's version
// needs name (.gnu.version_r, what the loader checks and `objdump -T`
// shows per symbol), from any library.
func glibcNeeded(t *testing.T, f *elf.File) string {
	t.Helper()
	needs, err := f.DynamicVersionNeeds()
	if err != nil {
		t.Fatal(err)
	}
	newest := ""
	for _, lib := range needs {
		for _, dep := range lib.Needs {
			if v, ok := strings.CutPrefix(dep.Dep, "GLIBC_"); ok && (newest == "" || versionLess(newest, v)) {
				newest = v
			}
		}
	}
	if newest == "" {
		t.Fatal("no GLIBC_ version needed: not a shared object linked against glibc")
	}
	return newest
}

// TestDistArtifacts: each artifact is a stripped shared object for its
// machine that exports Fluent Bit's Go plugin entry points, needs glibc
// 2.17 at most, holds no path of the machine that built it, and is
// described rightly by the README's tables.
func TestDistArtifacts(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join(hosttest.RepoRoot, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	hosts := readmeHosts(t, readme)
	machines := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}
	for arch, a := range distArtifacts(t) {
		t.Run(arch, func(t *testing.T) {
			f, err := elf.Open(a.path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if f.Type != elf.ET_DYN || f.Machine != machines[arch] {
				t.Errorf("ELF type %v machine %v; want ET_DYN %v", f.Type, f.Machine, machines[arch])
			}
			for _, s := range f.Sections {
				if s.Name == ".symtab" || strings.HasPrefix(s.Name, ".debug_") {
					t.Errorf("not stripped: has %s", s.Name)
				}
			}
			syms, err := f.DynamicSymbols()
			if err != nil {
				t.Fatal(err)
			}
			exported := map[string]bool{}
			for _, s := range syms {
				if s.Section != elf.SHN_UNDEF && elf.ST_TYPE(s.Info) == elf.STT_FUNC {
					exported[s.Name] = true
				}
			}
			for _, fn := range []string{"FLBPluginRegister", "FLBPluginInit", "FLBPluginFlushCtx", "FLBPluginExitCtx"} {
				if !exported[fn] {
					t.Errorf("does not export %s", fn)
				}
			}

			glibc := glibcNeeded(t, f)
			if versionLess(maxGlibc, glibc) {
				t.Errorf("needs GLIBC_%s: it would not load on glibc %s (CentOS 7)", glibc, maxGlibc)
			}
			row := fmt.Sprintf("| `linux-%s` | %s or newer |", arch, glibc)
			if !bytes.Contains(readme, []byte(row)) {
				t.Errorf("needs glibc %s; the README has no row %q", glibc, row)
			}
			for _, h := range hosts {
				if want := !versionLess(h.glibc, glibc); h.loads[arch] != want {
					t.Errorf("README: %q (glibc %s) says %s loads: %v; it needs %s", h.name, h.glibc, arch, h.loads[arch], glibc)
				}
			}

			data, err := os.ReadFile(a.path)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range []string{hosttest.RepoRoot, "toolchain/node_modules", goModCache(t)} {
				if bytes.Contains(data, []byte(p)) {
					t.Errorf("holds the build machine's path %q", p)
				}
			}
		})
	}
}

// goModCache is where the go command keeps modules' source on this machine.
func goModCache(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMODCACHE").Output()
	if err != nil || len(bytes.TrimSpace(out)) == 0 {
		t.Fatalf("go env GOMODCACHE: %v", err)
	}
	return string(bytes.TrimSpace(out))
}

// readmeHost is a row of the README's table of where Fluent Bit runs.
type readmeHost struct {
	name, glibc string
	loads       map[string]bool // by artifact architecture
}

// readmeHosts parses the README table whose header is hostsHeader: a name,
// its glibc, and "loads" or "no" per artifact.
func readmeHosts(t *testing.T, readme []byte) []readmeHost {
	t.Helper()
	const hostsHeader = "| Where Fluent Bit runs | glibc | `linux-amd64` | `linux-arm64` |"
	_, table, ok := strings.Cut(string(readme), hostsHeader+"\n")
	if !ok {
		t.Fatalf("README has no table %q", hostsHeader)
	}
	var hosts []readmeHost
	for i, line := range strings.Split(table, "\n") {
		if !strings.HasPrefix(line, "|") {
			break
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		for j := range cells {
			cells[j] = strings.TrimSpace(cells[j])
		}
		if i == 0 { // the delimiter row
			continue
		}
		if len(cells) != 4 || !regexp.MustCompile(`^2\.\d+$`).MatchString(cells[1]) {
			t.Fatalf("README host row %q: want | name | 2.x | loads/no | loads/no |", line)
		}
		h := readmeHost{name: cells[0], glibc: cells[1], loads: map[string]bool{}}
		for k, arch := range []string{"amd64", "arm64"} {
			switch cells[2+k] {
			case "loads":
				h.loads[arch] = true
			case "no":
			default:
				t.Fatalf("README host row %q: %s cell %q, want loads or no", line, arch, cells[2+k])
			}
		}
		hosts = append(hosts, h)
	}
	if len(hosts) == 0 {
		t.Fatal("README's table of where Fluent Bit runs has no row")
	}
	return hosts
}

// TestDistArtifactDelivers: the amd64 artifact loads in the test host as
// every Fluent Bit release it plays, says its version in the startup line,
// and delivers the reference chunk (versionSeedConfig).
func TestDistArtifactDelivers(t *testing.T) {
	a := distArtifacts(t)["amd64"]
	for _, v := range flbVersions {
		t.Run(v, func(t *testing.T) {
			t.Parallel()
			r := versionSeedConfig(t, v, []string{"--flb-version", v, "-e", a.path})
			if r.CountLogs("info", "version="+a.version+",") != 1 {
				t.Errorf("no startup line with version=%s\n%s", a.version, r.Dump())
			}
		})
	}
}

// TestDistReproducible: `make dist` again, from empty Go and zig caches,
// gives the same SHA256SUMS: a download can be checked against a build of
// the same commit anywhere.
func TestDistReproducible(t *testing.T) {
	t.Parallel()
	want, err := os.ReadFile(filepath.Join(hosttest.RepoRoot, "dist", "SHA256SUMS"))
	if err != nil {
		t.Fatalf("no release artifacts (%v): run 'make dist' (make test does)", err)
	}
	tmp := t.TempDir()
	dist := filepath.Join(tmp, "dist")
	cmd := exec.Command("make", "-C", hosttest.RepoRoot, "--no-print-directory", "dist", "DIST="+dist)
	cmd.Env = append(os.Environ(), "GOCACHE="+filepath.Join(tmp, "gocache"),
		"ZIG_GLOBAL_CACHE_DIR="+filepath.Join(tmp, "zig"), "ZIG_LOCAL_CACHE_DIR="+filepath.Join(tmp, "zig"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make dist from empty caches: %v\n%s", err, out)
	}
	got, err := os.ReadFile(filepath.Join(dist, "SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("not reproducible (or dist/ is older than the source: make dist):\ndist/SHA256SUMS:\n%s\nfrom empty caches:\n%s", want, got)
	}
}

// TestDistVersion: VERSION is a semantic version, CHANGELOG.md's newest
// release is that version (Keep a Changelog), and the artifacts carry it.
func TestDistVersion(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(hosttest.RepoRoot, "VERSION"))
	if err != nil {
		t.Fatal(err)
	}
	version := strings.TrimSpace(string(b))
	if !regexp.MustCompile(`^\d+\.\d+\.\d+$`).MatchString(version) {
		t.Errorf("VERSION %q: want MAJOR.MINOR.PATCH", version)
	}
	changelog, err := os.ReadFile(filepath.Join(hosttest.RepoRoot, "CHANGELOG.md"))
	if err != nil {
		t.Fatal(err)
	}
	release := regexp.MustCompile(`(?m)^## \[(\d+\.\d+\.\d+)\] - (\d{4}-\d{2}-\d{2})$`).FindSubmatch(changelog)
	if release == nil || string(release[1]) != version {
		t.Errorf("CHANGELOG.md's newest release heading %q; want '## [%s] - YYYY-MM-DD'", release, version)
	}
	if !bytes.HasPrefix(changelog, []byte("# Changelog\n")) || !bytes.Contains(changelog, []byte("## [Unreleased]\n")) {
		t.Error("CHANGELOG.md: want '# Changelog' and an '## [Unreleased]' section, as Keep a Changelog has")
	}
	if a := distArtifacts(t)["amd64"]; a.version != version {
		t.Errorf("the artifacts are named %s; VERSION is %s", a.version, version)
	}
}

// versionLess compares dotted glibc versions numerically (2.9 < 2.17).
func versionLess(a, b string) bool {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(as) || i < len(bs); i++ {
		var x, y int
		if i < len(as) {
			x, _ = strconv.Atoi(as[i])
		}
		if i < len(bs) {
			y, _ = strconv.Atoi(bs[i])
		}
		if x != y {
			return x < y
		}
	}
	return false
}
