package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"gopkg.in/yaml.v3"
)

// upstreamFile is a Fluent Bit Upstream file: a group name and its nodes,
// in file order (the round-robin order).
type upstreamFile struct {
	Name  string
	Nodes []upstreamNode
}

// upstreamNode is one [NODE] section: its keys lower-cased, values with
// ${VAR} expanded from the environment.
type upstreamNode struct {
	Name  string
	Where string // file:line, or file:nodes[i] in YAML, for messages
	Keys  map[string]string
}

// Get reads one key of the node.
func (n upstreamNode) Get(key string) string { return n.Keys[strings.ToLower(key)] }

// resolveUpstreamPath finds the file the way Fluent Bit's
// flb_upstream_ha_from_file does: as written when it exists (relative to
// the working directory), else, if relative, in the main config file's
// directory (config->conf_path).
func resolveUpstreamPath(file, confDir string) string {
	_, err := os.Stat(file)
	if !errors.Is(err, fs.ErrNotExist) || filepath.IsAbs(file) || confDir == "" {
		return file
	}
	return filepath.Join(confDir, file)
}

// readUpstreamFile reads an Upstream file, classic or (by its .yaml/.yml
// name, as Fluent Bit's flb_cf_create_from_file decides) YAML.
func readUpstreamFile(path string) (*upstreamFile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("key 'upstream': %w", err)
	}
	var up *upstreamFile
	switch strings.ToLower(filepath.Ext(path)) {
	case ".yaml", ".yml":
		up, err = parseUpstreamYAML(path, data)
	default:
		up, err = parseUpstreamClassic(path, data)
	}
	if err != nil {
		return nil, err
	}
	if up.Name == "" {
		return nil, fmt.Errorf("upstream file %s: the upstream has no 'name'", path)
	}
	if len(up.Nodes) == 0 {
		return nil, fmt.Errorf("upstream file %s: no nodes defined", path)
	}
	seen := map[string]string{}
	for i, n := range up.Nodes {
		for _, k := range []string{"name", "host", "port"} {
			if n.Get(k) == "" {
				return nil, fmt.Errorf("upstream file %s: no '%s' has been set on node #%d (%s)", path, k, i+1, n.Where)
			}
		}
		n.Name = n.Get("name")
		if strings.IndexFunc(n.Name, func(r rune) bool { return unicode.IsControl(r) || unicode.IsSpace(r) }) >= 0 {
			return nil, fmt.Errorf("upstream file %s: node name %q at %s: a name has no spaces or control characters", path, n.Name, n.Where)
		}
		up.Nodes[i] = n
		if w, ok := seen[n.Name]; ok {
			return nil, fmt.Errorf("upstream file %s: node name '%s' at %s is taken by the node at %s: names must differ (they name the node in the log and the metrics)", path, n.Name, n.Where, w)
		}
		seen[n.Name] = n.Where
	}
	return up, nil
}

// parseUpstreamClassic reads the classic format by flb_cf_fluentbit.c's
// rules: [SECTION] headers, indented `key value` lines split at the first
// space, # comments, no empty value. [UPSTREAM] gives the name, each
// [NODE] a node; other sections are ignored, as Fluent Bit does.
func parseUpstreamClassic(path string, data []byte) (*upstreamFile, error) {
	up := &upstreamFile{}
	var upstream map[string]string // the [UPSTREAM] section's keys
	var keys map[string]string     // the section being read; nil: ignored
	var indent string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for lineno := 1; sc.Scan(); lineno++ {
		line := strings.TrimRight(sc.Text(), "\r")
		where := fmt.Sprintf("%s:%d", path, lineno)
		trimmed := strings.TrimSpace(line)
		switch {
		case trimmed == "" || strings.HasPrefix(trimmed, "#"):
			continue
		case strings.HasPrefix(line, "@"):
			return nil, fmt.Errorf("upstream file %s: %s is not supported in an upstream file here: put the nodes in the file itself", where, strings.Fields(line)[0])
		case strings.HasPrefix(line, "["):
			end := strings.IndexByte(line, ']')
			if end < 2 {
				return nil, fmt.Errorf("upstream file %s: bad header definition", where)
			}
			keys = nil
			switch name := strings.TrimSpace(line[1:end]); {
			case strings.EqualFold(name, "UPSTREAM"):
				if upstream != nil {
					return nil, fmt.Errorf("upstream file %s: a second [UPSTREAM] section: one upstream per file", where)
				}
				upstream = map[string]string{}
				keys = upstream
			case strings.EqualFold(name, "NODE"):
				keys = map[string]string{}
				up.Nodes = append(up.Nodes, upstreamNode{Where: where, Keys: keys})
			}
			continue
		}
		lead := line[:len(line)-len(strings.TrimLeft(line, " \t"))]
		if indent == "" {
			indent = lead
		}
		if lead == "" || lead != indent {
			return nil, fmt.Errorf("upstream file %s: invalid indentation level (keys are indented, the same way in the whole file)", where)
		}
		key, value, _ := strings.Cut(trimmed, " ")
		value = strings.TrimSpace(value)
		if value == "" {
			return nil, fmt.Errorf("upstream file %s: key '%s' has an empty value", where, key)
		}
		if keys != nil {
			if err := addNodeKey(keys, key, value, where); err != nil {
				return nil, err
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("upstream file %s: %w", path, err)
	}
	if upstream == nil {
		return nil, fmt.Errorf("upstream file %s: section name 'upstream' could not be found", path)
	}
	up.Name = upstream["name"]
	return up, nil
}

// upstreamYAML is Fluent Bit's YAML form (3.2 and later):
//
//	upstream_servers:
//	  - name: group
//	    nodes:
//	      - name: n1
//	        host: ...
//
// Values are read as yaml.Node, never as Go values: Fluent Bit (libyaml)
// keeps a scalar's text as written, so 0123, 1_000, yes or 2001-12-14
// must not become a number, a bool or a date and be printed back.
type upstreamYAML struct {
	Servers []struct {
		Name  yaml.Node   `yaml:"name"`
		Nodes []yaml.Node `yaml:"nodes"`
	} `yaml:"upstream_servers"`
}

// yamlValue is a value as yaml.v3's errors quote it.
var yamlValue = regexp.MustCompile("`[^`]*`")

func parseUpstreamYAML(path string, data []byte) (*upstreamFile, error) {
	var doc upstreamYAML
	if err := yaml.Unmarshal(data, &doc); err != nil {
		// yaml.v3 quotes the values it could not take; one may be a secret.
		msg := yamlValue.ReplaceAllString(err.Error(), "a value")
		return nil, fmt.Errorf("upstream file %s: %s (the YAML form is upstream_servers: a list of one entry with name and nodes)", path, msg)
	}
	if len(doc.Servers) != 1 {
		return nil, fmt.Errorf("upstream file %s: %d entries under upstream_servers: one upstream per file", path, len(doc.Servers))
	}
	s := doc.Servers[0]
	name, _ := yamlScalar(&s.Name)
	up := &upstreamFile{Name: name}
	for i, m := range s.Nodes {
		where := fmt.Sprintf("%s:nodes[%d]", path, i)
		if m.Kind != yaml.MappingNode {
			return nil, fmt.Errorf("upstream file %s: a node is a map of keys (name, host, port, ...)", where)
		}
		keys := map[string]string{}
		for j := 0; j+1 < len(m.Content); j += 2 {
			k, _ := yamlScalar(m.Content[j])
			v, ok := yamlScalar(m.Content[j+1])
			switch {
			case !ok:
				return nil, fmt.Errorf("upstream file %s: key '%s' is not a single value", where, k)
			case v == "":
				return nil, fmt.Errorf("upstream file %s: key '%s' has an empty value", where, k)
			}
			if err := addNodeKey(keys, k, v, where); err != nil {
				return nil, err
			}
		}
		up.Nodes = append(up.Nodes, upstreamNode{Where: where, Keys: keys})
	}
	return up, nil
}

// yamlScalar is a scalar's text as written (an alias's, for an alias), and
// false for a map or a list.
func yamlScalar(n *yaml.Node) (string, bool) {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if n.Kind != yaml.ScalarNode {
		return "", false
	}
	return n.Value, true
}

// addNodeKey keeps a key, lower-cased as Fluent Bit stores a node's keys,
// with ${VAR} expanded (Fluent Bit does from 3.1.7).
func addNodeKey(keys map[string]string, key, value, where string) error {
	key = strings.ToLower(key)
	if _, dup := keys[key]; dup {
		return fmt.Errorf("upstream file %s: key '%s' is set twice", where, key)
	}
	keys[key] = expandEnv(value)
	return nil
}

// expandEnv replaces each ${VAR} with the environment's value, "" when
// unset, as Fluent Bit's flb_env_var_translate; a lone $ stays (a
// password may hold one).
func expandEnv(s string) string {
	var b strings.Builder
	for {
		start := strings.Index(s, "${")
		if start < 0 {
			break
		}
		end := strings.IndexByte(s[start:], '}')
		if end < 0 {
			break
		}
		b.WriteString(s[:start])
		b.WriteString(os.Getenv(s[start+2 : start+end]))
		s = s[start+end+1:]
	}
	b.WriteString(s)
	return b.String()
}

// nodeKeys are the keys a [NODE] may set besides name, host and port:
// those that say where and how to connect. A node without one takes the
// [OUTPUT]'s; every other key is the [OUTPUT]'s alone.
var nodeKeys = slices.Concat([]string{"uri", "ws_tls", "header", "origin", "proxy"}, fixedAuthKeys, tlsKeys, oauth2Keys, []string{clientSecretFileKey})

// fixedAuthKeys make the Authorization header together, with a
// user:password@ in uri: a node that sets one has its own credentials, and
// takes none of the [OUTPUT]'s, oauth2.* keys included. A node that sets
// an oauth2.* key takes none of the [OUTPUT]'s fixedAuthKeys, but the
// [OUTPUT]'s oauth2.* keys it does not set.
var fixedAuthKeys = []string{"http_user", "http_passwd", "http_passwd_file", "bearer_token", "bearer_token_file"}

// isOAuth2NodeKey tells the keys of the OAuth2 flow.
func isOAuth2NodeKey(key string) bool { return isOAuth2Key(key) || key == clientSecretFileKey }

// nodeSource reads a node's keys, and the [OUTPUT]'s where the node has
// none.
type nodeSource struct {
	node   upstreamNode
	output configSource
}

func (s nodeSource) Get(key string) string {
	key = strings.ToLower(key)
	if v, ok := s.node.Keys[key]; ok {
		return v
	}
	fixed, oauth := s.ownAuth()
	switch {
	case slices.Contains(fixedAuthKeys, key) && (fixed || oauth), isOAuth2NodeKey(key) && fixed:
		return ""
	}
	return s.output.Get(key)
}

// ownAuth tells whether the node sets fixed credentials of its own, and
// whether it sets oauth2.* keys.
func (s nodeSource) ownAuth() (fixed, oauth bool) {
	for k := range s.node.Keys {
		fixed = fixed || slices.Contains(fixedAuthKeys, k)
		oauth = oauth || isOAuth2NodeKey(k)
	}
	_, rest, isURL := strings.Cut(s.node.Keys["uri"], "://")
	authority, _, _ := strings.Cut(rest, "/")
	return fixed || isURL && strings.Contains(authority, "@"), oauth
}

// outputWithPath is an [OUTPUT] without a uri key whose -o form named a
// path: that path is its uri.
type outputWithPath struct {
	configSource
	path string
}

func (s outputWithPath) Get(key string) string {
	if strings.EqualFold(key, "uri") {
		return s.path
	}
	return s.configSource.Get(key)
}

// checkNodeKey says why key cannot be set in a [NODE], or nil.
func checkNodeKey(key string) error {
	switch {
	case key == "name" || key == "host" || key == "port" || slices.Contains(nodeKeys, key) || strings.HasPrefix(key, headerKeyPrefix):
		return nil
	case isOAuth2Key(key):
		return checkOAuth2Key(key)
	case key == "tls" || strings.HasPrefix(key, "tls."):
		return fmt.Errorf("key '%s' does nothing for this plugin: use 'ws_%s', as in the [OUTPUT]", key, key)
	}
	return fmt.Errorf("key '%s' cannot be set per node (a node takes name, host, port, %s, header.N and the oauth2.* keys): set it in the [OUTPUT]", key, strings.Join(slices.DeleteFunc(slices.Clone(nodeKeys), isOAuth2Key), ", "))
}

// loadUpstream reads the upstream file into cfg.Upstream, each node's
// connection settings cfg.Conn's with the node's endpoint keys read by
// loadEndpoint as those of an [OUTPUT] are, and the credentials of every
// node into cfg.Secrets. The [OUTPUT]'s endpoint keys (its URI, or the
// path of the -o form, among them) are every node's defaults, as in
// Fluent Bit's out_forward and out_es; its Host and Port name no node and
// are ignored, with a warning.
func loadUpstream(r *keyReader, file string, core coreEndpoint, confDir string, cfg *config) {
	output := r.src
	if err := checkCorePort(core); err != nil {
		r.errs = append(r.errs, err)
		return
	}
	switch uri := r.src.Get("uri"); {
	case strings.Contains(uri, "://"):
		r.fail("uri", uri, "allowed with 'upstream': a path such as /logs, every node's unless it sets its own uri (each [NODE] names its host and port)")
		return
	case uri != "" && core.Path != "" && strings.TrimPrefix(uri, "/") != strings.TrimPrefix(core.Path, "/"):
		r.errs = append(r.errs, pathConflict(core.Path, uri))
		return
	case uri == "" && core.Path != "":
		output = outputWithPath{r.src, core.Path}
	}
	if core.Host != "" || core.Port != 0 {
		cfg.Warnings = append(cfg.Warnings, "Host and Port (or the host:port of -o) are ignored with 'upstream': each [NODE] names its own host and port")
	}
	path := resolveUpstreamPath(file, confDir)
	up, err := readUpstreamFile(path)
	if err != nil {
		r.errs = append(r.errs, err)
		return
	}
	u := &upstreamConfig{Name: up.Name, Path: path}
	for _, n := range up.Nodes {
		nr := &keyReader{src: nodeSource{node: n, output: output}}
		for _, k := range slices.Sorted(maps.Keys(n.Keys)) {
			if err := checkNodeKey(k); err != nil {
				nr.errs = append(nr.errs, err)
			}
		}
		port, err := strconv.Atoi(n.Get("port"))
		if err != nil || port < 1 || port > 65535 {
			nr.fail("port", n.Get("port"), "allowed: 1 to 65535")
			port = 0
		}
		conn := cfg.Conn
		var warns []string
		loadEndpoint(nr, coreEndpoint{Host: n.Get("host"), Port: port}, &conn, &warns, cfg.Secrets)
		conn.LogURL += " (node " + n.Name + ")"
		for _, err := range nr.errs {
			r.errs = append(r.errs, fmt.Errorf("upstream node '%s' (%s): %w", n.Name, n.Where, err))
		}
		for _, w := range warns {
			cfg.Warnings = append(cfg.Warnings, fmt.Sprintf("upstream node '%s': %s", n.Name, w))
		}
		cfg.Secrets.add(secretValues(conn, nr.src.Get("proxy"))...)
		u.Nodes = append(u.Nodes, nodeConfig{Name: n.Name, Conn: conn})
	}
	cfg.Upstream = u
}
