package e2e

// The release artifacts of `make dist` as a user receives them: the right
// machine, loadable, exporting what Fluent Bit calls, stripped, named for
// the version they log, listed in SHA256SUMS, and the glibc the README
// promises.

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/out-websocket/out_websocket/internal/hosttest"
	"github.com/out-websocket/out_websocket/internal/reference"
	"github.com/out-websocket/out_websocket/internal/wstest"
)

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

// TestDistArtifacts: each artifact is a stripped shared object for its
// machine that exports Fluent Bit's Go plugin entry points and needs no
// newer glibc than the README states.
func TestDistArtifacts(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join(hosttest.RepoRoot, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
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
			glibc := "2.0"
			for _, s := range syms {
				if s.Section != elf.SHN_UNDEF && elf.ST_TYPE(s.Info) == elf.STT_FUNC {
					exported[s.Name] = true
				}
				if v, ok := strings.CutPrefix(s.Version, "GLIBC_"); ok && s.Section == elf.SHN_UNDEF && versionLess(glibc, v) {
					glibc = v
				}
			}
			for _, fn := range []string{"FLBPluginRegister", "FLBPluginInit", "FLBPluginFlushCtx", "FLBPluginExitCtx"} {
				if !exported[fn] {
					t.Errorf("does not export %s", fn)
				}
			}
			row := fmt.Sprintf("| `linux-%s` | glibc %s |", arch, glibc)
			if !bytes.Contains(readme, []byte(row)) {
				t.Errorf("needs glibc %s; the README has no row %q", glibc, row)
			}
		})
	}
}

// TestDistArtifactDelivers: the amd64 artifact loads in the test host, says
// its version in the startup line, and delivers the reference chunk.
func TestDistArtifactDelivers(t *testing.T) {
	a, ok := distArtifacts(t)["amd64"]
	if !ok {
		t.Fatal("no amd64 artifact")
	}
	srv := wstest.StartWSServer(t, wstest.WSOptions{Path: "/something"})
	conf := hosttest.WriteConfig(t, "fluent-bit.conf", builtinExample(srv.HostPort()))
	r := hosttest.RunHost(t, "-e", a.path, "-c", conf, "-i", reference.Chunk())
	r.RequireOK(t)
	if r.CountLogs("info", "version="+a.version+",") != 1 {
		t.Errorf("no startup line with version=%s\n%s", a.version, r.Dump())
	}
	if msgs := srv.WaitMessages(1, 5*time.Second); len(msgs) != 1 || !bytes.Equal(msgs[0].Data, readReference(t, "formats/json.double.date")) {
		t.Errorf("the artifact did not deliver the reference chunk as json\n%s", r.Dump())
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
