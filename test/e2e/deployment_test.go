package e2e

// docs/deployment.md as it reads: every Fluent Bit configuration in it, laid
// out at the paths it names with / moved to a temporary directory, runs in
// the test host with the amd64 release artifact and delivers to a wss://
// server with the token from the environment, as the guide says. The
// containers, task and chart themselves are not run (the guide says so).

import (
	"encoding/json"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/out-websocket/out_websocket/internal/chunktest"
	"github.com/out-websocket/out_websocket/internal/hosttest"
	"github.com/out-websocket/out_websocket/internal/wstest"
	"gopkg.in/yaml.v3"
)

// docBlock is a fenced block of a markdown file.
type docBlock struct {
	lang, file, text string // file: named by a "`file`:" line just before
}

var fileLine = regexp.MustCompile("^`([^`]+)`:$")

// docSections reads the fenced blocks of a markdown file by "## " section.
func docSections(t *testing.T, name string) map[string][]docBlock {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(hosttest.RepoRoot, name))
	if err != nil {
		t.Fatal(err)
	}
	sections := map[string][]docBlock{}
	section, file := "", ""
	var block *docBlock
	for _, line := range strings.Split(string(b), "\n") {
		switch {
		case block != nil && line == "```":
			sections[section] = append(sections[section], *block)
			block, file = nil, ""
		case block != nil:
			block.text += line + "\n"
		case strings.HasPrefix(line, "```"):
			block = &docBlock{lang: strings.TrimPrefix(line, "```"), file: file}
		case strings.HasPrefix(line, "## "):
			section, file = strings.TrimPrefix(line, "## "), ""
		case fileLine.MatchString(line):
			file = fileLine.FindStringSubmatch(line)[1]
		case line != "":
			file = ""
		}
	}
	if block != nil {
		t.Fatalf("%s: a fenced block is not closed", name)
	}
	return sections
}

// envRefs are the ${VAR}s a configuration expands.
var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

func envRefs(text string) []string {
	var names []string
	for _, m := range envRef.FindAllStringSubmatch(text, -1) {
		if !slices.Contains(names, m[1]) {
			names = append(names, m[1])
		}
	}
	return names
}

// docFiles are the blocks named by an absolute path: files of an image.
func docFiles(blocks []docBlock) map[string]string {
	files := map[string]string{}
	for _, b := range blocks {
		if strings.HasPrefix(b.file, "/") {
			files[b.file] = b.text
		}
	}
	return files
}

// TestDeploymentGuide runs each section of docs/deployment.md.
func TestDeploymentGuide(t *testing.T) {
	so := distArtifacts(t)["amd64"].path
	type deployment struct {
		version string // the Fluent Bit release the host plays
		tag     string // what the records are tagged with there
		plugin  string // the plugin's path in the image
		onCmd   bool   // loaded with -e (else the config's plugins file)
		// layout turns the section's blocks into the files of the image,
		// by path, and names the main config and the variables the
		// deployment sets (nil: not stated in a form this test reads).
		layout func(t *testing.T, blocks []docBlock) (files map[string]string, main string, env []string)
	}
	deployments := map[string]deployment{
		"A container image with the plugin": {
			version: "5.1", tag: "app", plugin: "/fluent-bit/plugins/out_websocket.so",
			layout: func(t *testing.T, blocks []docBlock) (map[string]string, string, []string) {
				return docFiles(blocks), "/fluent-bit/etc/fluent-bit.conf", nil
			},
		},
		// AWS for Fluent Bit 2.x runs Fluent Bit 1.9.10.
		"AWS for Fluent Bit (FireLens)": {
			version: "1.9", tag: "app-firelens-0123456789abcdef", plugin: "/fluent-bit/out_websocket.so", onCmd: true,
			layout: fireLensLayout,
		},
		"Kubernetes with the fluent/fluent-bit Helm chart": {
			version: "5.1", tag: "kube.var.log.containers.app_default_app-0123.log", plugin: "/fluent-bit/plugins/out_websocket.so",
			layout: helmLayout,
		},
	}

	ca := wstest.NewTestCA(t)
	chunk := hosttest.WriteFile(t, "sample.msgpack", chunktest.SampleChunk(10, 1))
	const token = "deploy-token"
	sections := docSections(t, "docs/deployment.md")
	for section, blocks := range sections {
		d, ok := deployments[section]
		for _, b := range blocks {
			if b.lang == "ini" && b.file == "" {
				t.Errorf("%s: a Fluent Bit config with no \"`path`:\" line before it, which this test would not run:\n%s", section, b.text)
			}
			if !ok && b.file != "" {
				t.Errorf("docs/deployment.md section %q has files but no case in TestDeploymentGuide", section)
			}
		}
		if !ok {
			continue
		}
		t.Run(section, func(t *testing.T) {
			t.Parallel()
			files, main, env := d.layout(t, blocks)
			root := hosttest.TempDir(t)
			var all strings.Builder
			for p, text := range files {
				writeInRoot(t, root, p, text)
				all.WriteString(text)
			}
			for _, name := range envRefs(all.String()) {
				if env != nil && !slices.Contains(env, name) {
					t.Errorf("the config expands ${%s}, which the deployment does not set", name)
				}
			}
			var section strings.Builder
			for _, b := range blocks {
				section.WriteString(b.text)
			}
			if !strings.Contains(section.String(), d.plugin) {
				t.Errorf("the section never puts the plugin at %s", d.plugin)
			}
			data, err := os.ReadFile(so)
			if err != nil {
				t.Fatal(err)
			}
			writeInRoot(t, root, d.plugin, string(data))

			srv := wstest.StartWSServer(t, wstest.WSOptions{Path: "/ingest", TLS: ca.ServerTLS(t, "localhost", "127.0.0.1")})
			args := []string{"--flb-version", d.version, "-c", root + main, "-t", d.tag, "-i", chunk, "-n", "3"}
			if d.onCmd {
				args = append(args, "-e", root+d.plugin)
			}
			r := hosttest.RunHostWith(t, hosttest.HostOptions{
				Dir: filepath.Join(root, "fluent-bit", "etc"),
				// Go's TLS takes the test CA for the system's: the configs
				// trust the image's CA bundle.
				Env: []string{"WS_URL=" + srv.URL(), "WS_TOKEN=" + token, "SSL_CERT_FILE=" + ca.File},
			}, args...)
			r.RequireOK(t)
			if s := r.Summary(t, "websocket_go.0"); s.Chunks != 3 || s.OK != 3 || s.Retried != 0 {
				t.Errorf("summary %+v, want 3 chunks delivered at once\n%s", s, r.Dump())
			}
			srv.WaitMessages(3, 5*time.Second)
			if got := srv.Headers()[0].Get("Authorization"); got != "Bearer "+token {
				t.Errorf("Authorization %q, want the token from WS_TOKEN", got)
			}
		})
	}
	for section := range deployments {
		if _, ok := sections[section]; !ok {
			t.Errorf("docs/deployment.md has no section %q", section)
		}
	}
}

// writeInRoot writes text at path p of an image whose / is root, its
// absolute /fluent-bit/ paths moved there too.
func writeInRoot(t *testing.T, root, p, text string) {
	t.Helper()
	text = strings.ReplaceAll(text, " /fluent-bit/", " "+root+"/fluent-bit/")
	if err := os.MkdirAll(filepath.Join(root, path.Dir(p)), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, p), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// fireLensLayout: FireLens writes the main configuration itself (inputs for
// the task's containers, then an @INCLUDE of the file the task definition
// names); the log router of the task definition must name one of the
// guide's files and set every variable it expands.
func fireLensLayout(t *testing.T, blocks []docBlock) (map[string]string, string, []string) {
	var task struct {
		ContainerDefinitions []struct {
			FirelensConfiguration *struct{ Options map[string]string }
			Environment, Secrets  []struct{ Name string }
		}
	}
	for _, b := range blocks {
		if b.lang == "json" {
			if err := json.Unmarshal([]byte(b.text), &task); err != nil {
				t.Fatalf("the task definition: %v", err)
			}
		}
	}
	for _, c := range task.ContainerDefinitions {
		if c.FirelensConfiguration == nil {
			continue
		}
		files := docFiles(blocks)
		included := c.FirelensConfiguration.Options["config-file-value"]
		if _, ok := files[included]; !ok {
			t.Fatalf("the task definition includes %q, which the guide does not show", included)
		}
		const main = "/fluent-bit/etc/fluent-bit.conf"
		files[main] = `[SERVICE]
    Flush 1
    Grace 30

[INPUT]
    Name      forward
    unix_path /var/run/fluent.sock

[INPUT]
    Name   forward
    Listen 127.0.0.1
    Port   24224

@INCLUDE ` + included + "\n"
		var env []string
		for _, e := range append(c.Environment, c.Secrets...) {
			env = append(env, e.Name)
		}
		return files, main, env
	}
	t.Fatal("the task definition has no container with firelensConfiguration")
	return nil, "", nil
}

// helmLayout builds the files of the chart's ConfigMap as its template does
// (fluent-bit.conf of service, inputs, filters and outputs, then each of
// extraFiles, in /fluent-bit/etc/conf), and checks that an init container
// fills the volume mounted where the plugins file looks.
func helmLayout(t *testing.T, blocks []docBlock) (map[string]string, string, []string) {
	type mount struct {
		Name      string
		MountPath string `yaml:"mountPath"`
	}
	type container struct {
		Command      []string
		VolumeMounts []mount `yaml:"volumeMounts"`
	}
	var values struct {
		InitContainers    []container             `yaml:"initContainers"`
		ExtraVolumes      []struct{ Name string } `yaml:"extraVolumes"`
		ExtraVolumeMounts []mount                 `yaml:"extraVolumeMounts"`
		Env               []struct{ Name string }
		Config            struct {
			Service, Inputs, Filters, Outputs string
			ExtraFiles                        map[string]string `yaml:"extraFiles"`
		}
	}
	i := slices.IndexFunc(blocks, func(b docBlock) bool { return b.file == "values.yaml" })
	if i < 0 {
		t.Fatal("no values.yaml")
	}
	if err := yaml.Unmarshal([]byte(blocks[i].text), &values); err != nil {
		t.Fatalf("values.yaml: %v", err)
	}
	c := values.Config
	files := map[string]string{"/fluent-bit/etc/conf/fluent-bit.conf": strings.Join([]string{c.Service, c.Inputs, c.Filters, c.Outputs}, "\n")}
	for name, text := range c.ExtraFiles {
		files["/fluent-bit/etc/conf/"+name] = text
	}
	for p, text := range files {
		// The chart passes each through tpl, which this test does not.
		if strings.Contains(text, "{{") {
			t.Errorf("%s holds a Helm template", p)
		}
	}

	plugins := regexp.MustCompile(`(?m)^\s*Path\s+(\S+)$`).FindStringSubmatch(c.ExtraFiles["plugins.conf"])
	if plugins == nil || !strings.Contains(c.Service, "/fluent-bit/etc/conf/plugins.conf") {
		t.Fatal("no plugins.conf in extraFiles with a Path, named by the service's Plugins_File")
	}
	dir := path.Dir(plugins[1])
	mounted := slices.ContainsFunc(values.ExtraVolumeMounts, func(m mount) bool {
		return m.MountPath == dir && slices.ContainsFunc(values.ExtraVolumes, func(v struct{ Name string }) bool { return v.Name == m.Name }) &&
			slices.ContainsFunc(values.InitContainers, func(ic container) bool {
				return slices.Contains(ic.VolumeMounts, mount{m.Name, dir}) && len(ic.Command) > 0 && strings.HasPrefix(ic.Command[len(ic.Command)-1], dir)
			})
	})
	if !mounted {
		t.Errorf("no init container copies into a volume that the Fluent Bit container mounts at %s", dir)
	}
	var env []string
	for _, e := range values.Env {
		env = append(env, e.Name)
	}
	return files, "/fluent-bit/etc/conf/fluent-bit.conf", env
}
