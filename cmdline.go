package main

/*
#include <limits.h>
#include <unistd.h>

// flbws_start_dir is the working directory when the plugin was loaded:
// Fluent Bit loads a -e plugin while it reads its options, before -w
// (--workdir) or -d (daemon mode, which moves to /) change directory. A
// constructor runs inside dlopen itself; Go's package init may run later.
static char flbws_start_dir[PATH_MAX];

__attribute__((constructor)) static void flbws_record_start_dir(void) {
	if (getcwd(flbws_start_dir, sizeof(flbws_start_dir)) == NULL) {
		flbws_start_dir[0] = '\0';
	}
}

static const char *flbws_start_dir_get(void) { return flbws_start_dir; }
*/
import "C"

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// commandLine is what this plugin needs of Fluent Bit's command line.
type commandLine struct {
	ConfigFile string // -c/--config as written, "" when none
	Workdir    string // -w/--workdir as written
	// Outputs are the -o outputs, in order, each with its -p properties
	// (keys lower-cased, "name" too): Fluent Bit creates them before those
	// of the config file.
	Outputs []map[string]string
}

// fluentBitOption is one entry of Fluent Bit's getopt_long table.
type fluentBitOption struct {
	name   string
	short  byte // the letter it stands for; 0 for a long-only option
	hasArg bool
}

// fluentBitShort is fluent-bit's optstring in src/fluent-bit.c (5.1.1; the
// letters of older releases are a subset, each with the same argument).
const fluentBitShort = "b:c:dDf:C:i:m:M:o:R:r:F:p:e:t:T:l:vw:qVhJL:HP:s:SWYZ"

// fluentBitLong is fluent-bit's long_opts in src/fluent-bit.c (5.1.1), in
// its order: getopt_long resolves an abbreviation against this table.
var fluentBitLong = []fluentBitOption{
	{"storage_path", 'b', true}, {"config", 'c', true}, {"daemon", 'd', false},
	{"dry-run", 'D', false}, {"flush", 'f', true}, {"http", 'H', false},
	{"supervisor", 0, false}, {"log_file", 'l', true}, {"port", 'P', true},
	{"custom", 'C', true}, {"input", 'i', true}, {"processor", 'r', true},
	{"filter", 'F', true}, {"output", 'o', true}, {"match", 'm', true},
	{"parser", 'R', true}, {"prop", 'p', true}, {"plugin", 'e', true},
	{"tag", 't', true}, {"sp-task", 'T', true}, {"version", 'V', false},
	{"verbose", 'v', false}, {"workdir", 'w', true}, {"quiet", 'q', false},
	{"help", 'h', false}, {"help-json", 'J', false}, {"coro_stack_size", 's', true},
	{"sosreport", 'S', false}, {"http_server", 'H', false}, {"http_listen", 'L', true},
	{"http_port", 'P', true}, {"enable-hot-reload", 'Y', false}, {"enable-fips", 0, false},
	{"windows_maxstdio", 'M', true}, {"enable-chunk-trace", 'Z', false}, {"trace", 0, true},
	{"trace-input", 0, true}, {"trace-output", 0, true}, {"trace-output-property", 0, true},
	{"disable-thread-safety-on-hot-reload", 'W', false},
}

// parseCommandLine reads args (argv[0] first) as glibc's getopt_long reads
// them with Fluent Bit's options: options may follow other arguments (GNU
// permutation) until "--"; short options group (-vvc x, -cx); a long option
// may be abbreviated while unambiguous and takes its argument after "=" or
// as the next word. A later -c replaces an earlier one, as fluent-bit does;
// -p key=value sets a property of the section named just before it.
// Options getopt would reject are skipped, as they are by getopt.
func parseCommandLine(args []string) commandLine {
	var cl commandLine
	var last map[string]string // the section -p sets: the last -o, nil after -i, -F, -C or -r
	set := func(opt byte, val string) {
		switch opt {
		case 'c':
			cl.ConfigFile = val
		case 'w':
			cl.Workdir = val
		case 'o':
			name, _, _ := strings.Cut(val, "://")
			last = map[string]string{"name": name}
			cl.Outputs = append(cl.Outputs, last)
		case 'i', 'F', 'C', 'r':
			last = nil
		case 'p':
			if k, v, ok := strings.Cut(val, "="); ok && last != nil {
				last[strings.ToLower(k)] = v
			}
		}
	}
	for i := 1; i < len(args); {
		a := args[i]
		i++
		switch {
		case a == "--":
			return cl
		case len(a) < 2 || a[0] != '-':
			continue // not an option: getopt moves it to the end
		case strings.HasPrefix(a, "--"):
			name, val, inline := strings.Cut(a[2:], "=")
			opt, ok := matchLongOption(name)
			if !ok || (inline && !opt.hasArg) {
				continue
			}
			if opt.hasArg && !inline {
				if i == len(args) {
					return cl
				}
				val = args[i]
				i++
			}
			set(opt.short, val)
		default:
			for j := 1; j < len(a); j++ {
				k := strings.IndexByte(fluentBitShort, a[j])
				if k < 0 || a[j] == ':' {
					continue
				}
				if k+1 == len(fluentBitShort) || fluentBitShort[k+1] != ':' {
					set(a[j], "")
					continue
				}
				val := a[j+1:]
				if val == "" {
					if i == len(args) {
						return cl
					}
					val = args[i]
					i++
				}
				set(a[j], val)
				break
			}
		}
	}
	return cl
}

// matchLongOption finds a long option as getopt_long does: an exact name,
// else the one option the name abbreviates, or the first of several that
// all mean the same (--http_s and --http are both -H).
func matchLongOption(name string) (fluentBitOption, bool) {
	var found []fluentBitOption
	for _, o := range fluentBitLong {
		if o.name == name {
			return o, true
		}
		if name != "" && strings.HasPrefix(o.name, name) {
			found = append(found, o)
		}
	}
	if len(found) == 0 {
		return fluentBitOption{}, false
	}
	for _, o := range found[1:] {
		if o.short != found[0].short || o.hasArg != found[0].hasArg || o.short == 0 {
			return fluentBitOption{}, false
		}
	}
	return found[0], true
}

// configCandidates are the paths Fluent Bit may have opened for the main
// config file, most likely first: it changes to -w's directory before it
// opens -c, and startDir is where the plugin was loaded, before -w when it
// came with -e, after it when a plugins file named it.
func (cl commandLine) configCandidates(startDir string) []string {
	if cl.ConfigFile == "" {
		return nil
	}
	if filepath.IsAbs(cl.ConfigFile) {
		return []string{cl.ConfigFile}
	}
	var out []string
	if cl.Workdir != "" {
		wd := cl.Workdir
		if !filepath.IsAbs(wd) {
			wd = filepath.Join(startDir, wd)
		}
		out = append(out, filepath.Join(wd, cl.ConfigFile))
	}
	if p := filepath.Join(startDir, cl.ConfigFile); len(out) == 0 || out[0] != p {
		out = append(out, p)
	}
	return out
}

// errNoConfigFile is a main config file Fluent Bit was started with that
// the plugin cannot find again; it names the paths tried.
type errNoConfigFile struct{ tried []string }

func (e errNoConfigFile) Error() string {
	return fmt.Sprintf("cannot find Fluent Bit's main config file (tried %s)", strings.Join(e.tried, ", "))
}

// startDir is the working directory the plugin was loaded in.
func startDir() string {
	if d := C.GoString(C.flbws_start_dir_get()); d != "" {
		return d
	}
	d, _ := os.Getwd()
	return d
}

// mainConfigFile is the main config file of the running Fluent Bit, its
// real path; "" when there is none: no -c, or Fluent Bit embedded as a
// library.
func mainConfigFile() (string, error) {
	cl, ok := runningCommandLine()
	if !ok {
		return "", nil
	}
	return findConfigFile(cl.configCandidates(startDir()))
}

// runningCommandLine is the command line of the running fluent-bit; false
// where Fluent Bit is embedded as a library (its host's command line is
// not Fluent Bit's).
func runningCommandLine() (commandLine, bool) {
	if !runningFluentBitCommand() {
		return commandLine{}, false
	}
	raw, err := os.ReadFile("/proc/self/cmdline")
	if err != nil {
		return commandLine{}, false
	}
	return parseCommandLine(strings.Split(strings.TrimSuffix(string(raw), "\x00"), "\x00")), true
}

// findConfigFile is the first of the candidates that exists, its real path.
func findConfigFile(candidates []string) (string, error) {
	for _, p := range candidates {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			return real, nil
		}
	}
	if len(candidates) == 0 {
		return "", nil
	}
	return "", errNoConfigFile{candidates}
}

// mainConfigDir is the directory of the main config file, as Fluent Bit's
// conf_path, or "" when there is none.
func mainConfigDir() (string, error) {
	file, err := mainConfigFile()
	if file == "" {
		return "", err
	}
	return filepath.Dir(file), nil
}

// defaultGrace is Fluent Bit's grace period when [SERVICE] sets none
// (src/flb_config.c).
const defaultGrace = 5 * time.Second

// serviceGrace is the Grace this Fluent Bit runs with: [SERVICE] Grace of
// its main config file (classic or YAML), else 5 s. Fluent Bit has no
// command-line option for it. A negative value is Grace -1: Fluent Bit
// then waits for every task.
func serviceGrace() time.Duration {
	file, _ := mainConfigFile()
	if file == "" {
		return defaultGrace
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return defaultGrace
	}
	return graceOf(file, data)
}

// graceOf reads Grace from a main config file's service section; a value
// Fluent Bit would read as 0 (atoi) is 0.
func graceOf(file string, data []byte) time.Duration {
	var raw string
	var ok bool
	switch strings.ToLower(filepath.Ext(file)) {
	case ".yaml", ".yml":
		raw, ok = yamlServiceKey(data, "grace")
	default:
		raw, ok = classicServiceKey(data, "grace")
	}
	if !ok {
		return defaultGrace
	}
	return time.Duration(atoi(raw)) * time.Second
}

// classicServiceKey finds key in a classic file's [SERVICE] section, its
// ${VAR} expanded from the environment (not from @SET).
func classicServiceKey(data []byte, key string) (string, bool) {
	inService := false
	var val string
	var found bool
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || line[0] == '#':
		case line[0] == '[':
			inService = strings.EqualFold(strings.Trim(line, "[] \t"), "service")
		case inService:
			k, v, _ := strings.Cut(strings.Join(strings.Fields(line), " "), " ")
			if strings.EqualFold(k, key) {
				val, found = v, true
			}
		}
	}
	return expandEnv(val), found
}

// yamlServiceKey finds key in a YAML file's service: map, as written, its
// ${VAR} expanded from the environment (not from env:).
func yamlServiceKey(data []byte, key string) (string, bool) {
	var doc struct {
		Service map[string]yaml.Node `yaml:"service"`
	}
	if yaml.Unmarshal(data, &doc) != nil {
		return "", false
	}
	for k, v := range doc.Service {
		if strings.EqualFold(k, key) && v.Kind == yaml.ScalarNode {
			return expandEnv(v.Value), true
		}
	}
	return "", false
}

// atoi is C's atoi: leading spaces, a sign, then digits while there are
// any; 0 when none.
func atoi(s string) int {
	s = strings.TrimLeft(s, " \t\n\v\f\r")
	end := 0
	if end < len(s) && (s[end] == '-' || s[end] == '+') {
		end++
	}
	for end < len(s) && s[end] >= '0' && s[end] <= '9' {
		end++
	}
	n, err := strconv.Atoi(s[:end])
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return 0
	}
	return n
}

// runningFluentBitCommand tells the fluent-bit executable, whose command
// line is Fluent Bit's, from a program that embeds Fluent Bit as a library:
// only the executable has flb_main (src/fluent-bit.c).
func runningFluentBitCommand() bool { return symbol("flb_main") != nil }

// maxIncludeDepth bounds @INCLUDE and includes: nesting, as a guard
// against a file that includes itself.
const maxIncludeDepth = 8

// outputsAsWritten lists the outputs of this run in the order Fluent Bit
// creates them, the order of their ids: the command line's, then the main
// config file's (classic [OUTPUT] sections with @INCLUDE files in place,
// or YAML pipeline outputs and includes). Keys are lower-cased, values as
// written.
func outputsAsWritten(cl commandLine, file string) []map[string]string {
	outs := slices.Clone(cl.Outputs)
	if file != "" {
		outs = appendFileOutputs(outs, file, filepath.Dir(file), 0)
	}
	return outs
}

// appendFileOutputs appends the outputs of one config file; includes are
// found as written, else next to the main config file.
func appendFileOutputs(outs []map[string]string, file, confDir string, depth int) []map[string]string {
	data, err := os.ReadFile(file)
	if err != nil || depth > maxIncludeDepth {
		return outs
	}
	include := func(pattern string) {
		if !filepath.IsAbs(pattern) {
			if m, _ := filepath.Glob(pattern); len(m) == 0 {
				pattern = filepath.Join(confDir, pattern)
			}
		}
		matches, _ := filepath.Glob(pattern)
		for _, m := range matches {
			outs = appendFileOutputs(outs, m, confDir, depth+1)
		}
	}
	switch strings.ToLower(filepath.Ext(file)) {
	case ".yaml", ".yml":
		var doc yaml.Node
		if yaml.Unmarshal(data, &doc) != nil || len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
			return outs
		}
		top := doc.Content[0].Content
		for i := 0; i+1 < len(top); i += 2 {
			switch strings.ToLower(top[i].Value) {
			case "includes":
				for _, n := range top[i+1].Content {
					include(n.Value)
				}
			case "pipeline":
				outs = appendYAMLOutputs(outs, top[i+1])
			}
		}
	default:
		var section map[string]string
		sc := bufio.NewScanner(bytes.NewReader(data))
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			switch {
			case line == "" || line[0] == '#':
			case strings.HasPrefix(line, "@INCLUDE"):
				include(strings.TrimSpace(line[len("@INCLUDE"):]))
			case line[0] == '@':
			case line[0] == '[':
				section = nil
				if strings.EqualFold(strings.Trim(line, "[] \t"), "output") {
					section = map[string]string{}
					outs = append(outs, section)
				}
			case section != nil:
				k, v, _ := strings.Cut(line, " ")
				section[strings.ToLower(k)] = strings.TrimSpace(v)
			}
		}
	}
	return outs
}

// appendYAMLOutputs appends the outputs of a YAML pipeline: map.
func appendYAMLOutputs(outs []map[string]string, pipeline *yaml.Node) []map[string]string {
	if pipeline.Kind != yaml.MappingNode {
		return outs
	}
	for i := 0; i+1 < len(pipeline.Content); i += 2 {
		if !strings.EqualFold(pipeline.Content[i].Value, "outputs") {
			continue
		}
		for _, o := range pipeline.Content[i+1].Content {
			keys := map[string]string{}
			for j := 0; j+1 < len(o.Content); j += 2 {
				if o.Content[j+1].Kind == yaml.ScalarNode {
					keys[strings.ToLower(o.Content[j].Value)] = o.Content[j+1].Value
				}
			}
			outs = append(outs, keys)
		}
	}
	return outs
}

// outputAsWritten is this instance's output among outs, found by the
// instance's Alias, else by its id (<plugin>.<id>); nil when that output is
// not this plugin's.
func outputAsWritten(outs []map[string]string, instance, plugin string) map[string]string {
	var out map[string]string
	for _, o := range outs {
		if o["alias"] == instance {
			out = o
			break
		}
	}
	if id, err := strconv.Atoi(strings.TrimPrefix(instance, plugin+".")); out == nil && err == nil &&
		strings.HasPrefix(instance, plugin+".") && id >= 0 && id < len(outs) {
		out = outs[id]
	}
	if name, _, _ := strings.Cut(out["name"], "://"); out == nil || !strings.EqualFold(name, plugin) {
		return nil
	}
	return out
}

// portAsWritten is the Port of an output as its config wrote it (out, from
// outputAsWritten), ${VAR} expanded. ok only when the core's atoi of the
// text is corePort: the core keeps Port from the plugin and stores only
// that number, which makes 0, "abc" and no Port alike.
func portAsWritten(out map[string]string, corePort int) (string, bool) {
	raw, ok := out["port"]
	if !ok {
		return "", false
	}
	text := expandEnv(raw)
	return text, atoi(text) == corePort
}

// tlsKeysAsWritten are the tls and tls.* keys of an output, ${VAR}
// expanded: the core keeps them from the plugin.
func tlsKeysAsWritten(out map[string]string) map[string]string {
	keys := map[string]string{}
	for k, v := range out {
		if k == "tls" || strings.HasPrefix(k, "tls.") {
			keys[k] = expandEnv(v)
		}
	}
	return keys
}

// instanceAsWritten is outputAsWritten for the running Fluent Bit: nil
// where Fluent Bit is embedded as a library, or the output is not found.
func instanceAsWritten(instance, plugin string) map[string]string {
	cl, ok := runningCommandLine()
	if !ok {
		return nil
	}
	file, _ := findConfigFile(cl.configCandidates(startDir()))
	return outputAsWritten(outputsAsWritten(cl, file), instance, plugin)
}
