package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/out-websocket/out_websocket/encoder"
)

// configSource reads one [OUTPUT] property. In Fluent Bit it is the
// instance's property list (keys the core keeps read as ""); in tests a map.
type configSource interface {
	Get(key string) string
}

// coreEndpoint is what Fluent Bit's core stored from Host, Port and the
// `-o name://host:port/path` form. Those keys never reach a Go plugin as
// properties, so they are read from the instance itself (see endpoint.go).
type coreEndpoint struct {
	Host string
	// Port is what the core made of the Port key: atoi of it, so "99999"
	// and "-1" arrive as written, while "0", "abc" and no Port all are 0.
	Port int
	// PortText is the Port key as written, when the plugin could find it
	// (portAsWritten): it tells 0 and "abc" from no Port.
	PortText  string
	PortKnown bool
	Path      string
	// TLSKeys are the tls and tls.* keys as written (tlsKeysAsWritten),
	// which the core keeps too: Fluent Bit's own TLS, not this plugin's.
	TLSKeys map[string]string
	// Err says why the core's values could not be read; the zero
	// Host and Port then mean "unknown", not "unset".
	Err error
}

// config is everything one [OUTPUT] instance needs, read and validated in
// FLBPluginInit.
type config struct {
	Endpoint *url.URL
	Encoder  encoder.Options
	Conn     connConfig
	// Upstream, set by the `upstream` key, replaces Endpoint: each node
	// has a connConfig of its own (Conn with the node's endpoint keys).
	Upstream *upstreamConfig
	// Warnings are logged once at start: settings that work but deserve a
	// word (an insecure switch, an endpoint that could not be read).
	Warnings []string
	// Secrets are the credentials the instance sends, which no log line
	// may carry (see scrubbing), those that change included.
	Secrets *secretSet
}

// connConfig holds the connection settings of one instance.
type connConfig struct {
	URL string
	// LogURL is URL as log lines show it (see redact).
	LogURL string
	Header http.Header
	// Auth, when set, gives each handshake its Authorization header:
	// credentials that change while the plugin runs (see credentials).
	Auth               credentials
	Subprotocols       []string
	RequireSubprotocol bool
	TLS                *tls.Config // nil for ws://
	Proxy              func(*http.Request) (*url.URL, error)
	Compression        bool
	ConnectTimeout     time.Duration
	WriteTimeout       time.Duration
	IdleInterval       time.Duration // 0: never close an idle connection
	PingInterval       time.Duration // 0: no pings
	PingTimeout        time.Duration
	// ConfirmDelivery makes a chunk count as sent only once the server
	// answered a ping sent after it, i.e. read it.
	ConfirmDelivery bool
}

// upstreamConfig is an Upstream file's group, its nodes in round-robin
// order.
type upstreamConfig struct {
	Name, Path string
	Nodes      []nodeConfig
}

// nodeConfig is one endpoint: the single one of an [OUTPUT], or an
// upstream node (Name set).
type nodeConfig struct {
	Name string
	Conn connConfig
}

// label names the node in the metrics: its name, or for the one endpoint
// of an [OUTPUT] without upstream, its host:port.
func (n nodeConfig) label() string {
	if n.Name != "" {
		return n.Name
	}
	if u, err := url.Parse(n.Conn.URL); err == nil {
		return u.Host
	}
	return ""
}

// nodes are the endpoints the instance sends to.
func (c *config) nodes() []nodeConfig {
	if c.Upstream != nil {
		return c.Upstream.Nodes
	}
	return []nodeConfig{{Conn: c.Conn}}
}

// Defaults a user of the built-in websocket output expects, and ours.
const (
	defaultHost           = "127.0.0.1"
	defaultPort           = 80
	defaultTLSPort        = 443
	defaultURI            = "/"
	defaultIdleInterval   = 20 * time.Second
	defaultConnectTimeout = 10 * time.Second
	defaultWriteTimeout   = 30 * time.Second
	defaultPingTimeout    = 10 * time.Second
	// minPingInterval keeps a typo from making a ticker per connection
	// that fires every microsecond.
	minPingInterval = 50 * time.Millisecond
)

// message_size_limit: the hard cap on one message, which bounds what
// encoding a chunk takes in memory.
const (
	defaultMessageLimit = 64 << 20
	minMessageLimit     = 1 << 10
	maxMessageLimit     = 1_000_000_000
)

// headerKeyPrefix numbers the extra headers: Fluent Bit shows a Go plugin
// only the first `header` of an [OUTPUT], so more need keys of their own.
const headerKeyPrefix = "header."

// maxNumberedHeaders bounds the scan for header.N keys; numbering may skip.
const maxNumberedHeaders = 1000

var tlsVersions = map[string]uint16{
	"1.0": tls.VersionTLS10, "1.1": tls.VersionTLS11,
	"1.2": tls.VersionTLS12, "1.3": tls.VersionTLS13,
}

// keyReader reads typed keys and collects every invalid value, so Init
// reports all mistakes at once.
type keyReader struct {
	src  configSource
	errs []error
}

func (r *keyReader) fail(key, value, allowed string) {
	r.errs = append(r.errs, fmt.Errorf("invalid value %q for key '%s': %s", redact(key, value), key, allowed))
}

func (r *keyReader) string(key, def string) string {
	if v := strings.TrimSpace(r.src.Get(key)); v != "" {
		return v
	}
	return def
}

// bool accepts what Fluent Bit's flb_utils_bool accepts.
func (r *keyReader) bool(key string, def bool) bool {
	v := r.src.Get(key)
	if v == "" {
		return def
	}
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "on", "true", "yes":
		return true
	case "off", "false", "no":
		return false
	}
	r.fail(key, v, "allowed: on, off, true, false, yes, no")
	return def
}

// seconds reads a duration in seconds, as Fluent Bit's time keys are; a
// fraction is allowed for sub-second settings, and 0 means off.
func (r *keyReader) seconds(key string, def time.Duration) time.Duration {
	return r.duration(key, def, 0, "allowed: a number of seconds from 0 to 1000000")
}

// timeout reads a duration in seconds that cannot be 0: at least 1e-9, the
// smallest time.Duration.
func (r *keyReader) timeout(key string, def time.Duration) time.Duration {
	return r.duration(key, def, 1e-9, "allowed: a number of seconds above 0, up to 1000000")
}

func (r *keyReader) duration(key string, def time.Duration, min float64, allowed string) time.Duration {
	v := strings.TrimSpace(r.src.Get(key))
	if v == "" {
		return def
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || !(f >= min && f <= 1e6) {
		r.fail(key, v, allowed)
		return def
	}
	return time.Duration(f * float64(time.Second))
}

// size reads a byte count as Fluent Bit's size keys are written: K, M and
// G (or KB, MB, GB) are powers of 1000, and "false" means 0.
func (r *keyReader) size(key string, def int) int {
	v := strings.TrimSpace(r.src.Get(key))
	if v == "" {
		return def
	}
	if strings.EqualFold(v, "false") {
		return 0
	}
	s := strings.TrimSuffix(strings.ToUpper(v), "B")
	mult := 1
	if n := len(s); n > 0 {
		switch s[n-1] {
		case 'K':
			mult = 1e3
		case 'M':
			mult = 1e6
		case 'G':
			mult = 1e9
		}
		if mult > 1 {
			s = s[:n-1]
		}
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > (1<<31-1)/mult {
		r.fail(key, v, "allowed: a byte count such as 65536, 64K or 1M (K, M, G are powers of 1000), at most 2G")
		return def
	}
	return n * mult
}

func (r *keyReader) list(key string) []string {
	var out []string
	for _, p := range strings.Split(r.src.Get(key), ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// loadConfig reads and validates every key of one instance. confDir is
// the main config file's directory, where a relative upstream file is
// looked for.
func loadConfig(src configSource, core coreEndpoint, confDir string) (*config, error) {
	r := &keyReader{src: src}
	cfg := &config{Secrets: &secretSet{}}
	if ks, ok := src.(interface{ Keys() []string }); ok {
		for _, k := range ks.Keys() {
			if err := checkOAuth2Key(k); err != nil {
				r.errs = append(r.errs, err)
			}
		}
	}

	warnings, err := checkCoreTLS(core.TLSKeys)
	if err != nil {
		r.errs = append(r.errs, err)
	}
	cfg.Warnings = append(cfg.Warnings, warnings...)
	cfg.Encoder = loadEncoderOptions(r)
	loadConnOptions(r, &cfg.Conn)
	if file := r.string("upstream", ""); file != "" {
		loadUpstream(r, file, core, confDir, cfg)
	} else {
		cfg.Endpoint = loadEndpoint(r, core, &cfg.Conn, &cfg.Warnings, cfg.Secrets)
		cfg.Secrets.add(secretValues(cfg.Conn, src.Get("proxy"))...)
	}

	if len(r.errs) > 0 {
		return nil, errors.Join(r.errs...)
	}
	return cfg, nil
}

// loadConnOptions reads the connection settings every endpoint of an
// instance shares.
func loadConnOptions(r *keyReader, c *connConfig) {
	c.Subprotocols = r.list("subprotocols")
	c.RequireSubprotocol = r.bool("subprotocol_required", false)
	if c.RequireSubprotocol && len(c.Subprotocols) == 0 {
		r.errs = append(r.errs, errors.New("key 'subprotocol_required' is on but 'subprotocols' lists none"))
	}
	c.Compression = r.bool("compress", false)
	c.ConnectTimeout = r.timeout("connect_timeout", defaultConnectTimeout)
	c.WriteTimeout = r.timeout("write_timeout", defaultWriteTimeout)
	c.IdleInterval = r.seconds("idle_interval", defaultIdleInterval)
	c.PingInterval = r.seconds("ping_interval", 0)
	if c.PingInterval > 0 && c.PingInterval < minPingInterval {
		r.fail("ping_interval", r.src.Get("ping_interval"), fmt.Sprintf("allowed: 0 (off), or a number of seconds from %v to 1000000", minPingInterval.Seconds()))
	}
	c.PingTimeout = r.timeout("ping_timeout", defaultPingTimeout)
	c.ConfirmDelivery = r.bool("confirm_delivery", true)
}

// loadEndpoint reads the keys that say where and how to connect (uri,
// ws_tls*, headers and auth, proxy) into c, with the Host and Port of
// core, and returns the endpoint. Credentials that change register
// themselves in secrets.
func loadEndpoint(r *keyReader, core coreEndpoint, c *connConfig, warnings *[]string, secrets *secretSet) *url.URL {
	useTLS := r.bool("ws_tls", false)
	endpoint, warn, err := resolveEndpoint(r.string("uri", ""), useTLS, core)
	if err != nil {
		r.errs = append(r.errs, err)
	}
	if warn != "" {
		*warnings = append(*warnings, warn)
	}

	c.Header = loadHeaders(r)
	c.Proxy = loadProxy(r)
	c.Auth = loadCredentials(r, c.Header, endpoint != nil && endpoint.User != nil, c, secrets)
	if endpoint != nil {
		if endpoint.User != nil {
			// gorilla refuses userinfo in a URL; it means Basic auth.
			if c.Header.Get("Authorization") != "" {
				r.errs = append(r.errs, errors.New("key 'uri' holds a user:password@ and an Authorization header is set too (http_user, bearer_token or header): keep one"))
			}
			pass, _ := endpoint.User.Password()
			c.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(endpoint.User.Username()+":"+pass)))
			endpoint.User = nil
		}
		c.URL = endpoint.String()
		c.LogURL = redact("uri", c.URL)
	}
	if err := checkReservedHeaders(c.Header, r.src.Get("subprotocols") != ""); err != nil {
		r.errs = append(r.errs, err)
	}

	if endpoint != nil && endpoint.Scheme == "wss" {
		tc, warns := loadTLS(r, endpoint.Hostname())
		c.TLS = tc
		*warnings = append(*warnings, warns...)
	} else if tlsKeysSet(r.src) {
		r.errs = append(r.errs, errors.New("ws_tls.* keys are set but the endpoint is not wss:// (set 'ws_tls on' or use a wss:// URI)"))
	}
	return endpoint
}

func loadEncoderOptions(r *keyReader) encoder.Options {
	var o encoder.Options
	var err error
	if o.Format, err = encoder.ParseFormat(r.string("format", "msgpack")); err != nil {
		r.errs = append(r.errs, fmt.Errorf("key 'format': %w", err))
	}
	o.DateKey = encoder.ParseDateKey(r.src.Get("json_date_key"))
	if o.DateFormat, err = encoder.ParseDateFormat(r.string("json_date_format", "double")); err != nil {
		r.errs = append(r.errs, fmt.Errorf("key 'json_date_format': %w", err))
	}
	o.EscapeUnicode = r.bool("json_escape_unicode", true)
	o.GELF = encoder.GELFKeys{
		ShortMessage: r.string("gelf_short_message_key", "short_message"),
		FullMessage:  r.string("gelf_full_message_key", "full_message"),
		Host:         r.string("gelf_host_key", "host"),
		Level:        r.string("gelf_level_key", "level"),
		Timestamp:    r.string("gelf_timestamp_key", "timestamp"),
	}
	o.MaxMessageSize = r.size("max_message_size", 0)
	o.MessageLimit = r.size("message_size_limit", defaultMessageLimit)
	switch {
	case o.MessageLimit < minMessageLimit || o.MessageLimit > maxMessageLimit:
		r.fail("message_size_limit", r.src.Get("message_size_limit"), fmt.Sprintf("allowed: a byte count from %d to %d (1G)", minMessageLimit, maxMessageLimit))
		o.MessageLimit = defaultMessageLimit
	case o.MaxMessageSize > o.MessageLimit:
		r.errs = append(r.errs, fmt.Errorf("key 'max_message_size' (%d) is larger than 'message_size_limit' (%d): raise message_size_limit too", o.MaxMessageSize, o.MessageLimit))
	}
	return o
}

// resolveEndpoint combines the URI key with the Host and Port the core
// holds. URI is a path (as the built-in has it) or a whole ws:// or wss://
// URL, the one form that works whatever the host can tell us. The path is
// sent as written (RFC 3986: its escapes stay as they are); a fragment,
// which RFC 6455 does not allow, is dropped with a warning.
func resolveEndpoint(uri string, useTLS bool, core coreEndpoint) (*url.URL, string, error) {
	shown := redact("uri", uri)
	if err := checkCorePort(core); err != nil {
		return nil, "", err
	}
	if strings.Contains(uri, "://") {
		u, err := url.Parse(uri)
		if err != nil || (u.Scheme != "ws" && u.Scheme != "wss") || u.Hostname() == "" {
			return nil, "", fmt.Errorf("invalid value %q for key 'uri': allowed: a path such as /logs, or a ws:// or wss:// URL with a host", shown)
		}
		if useTLS && u.Scheme == "ws" {
			return nil, "", fmt.Errorf("keys 'ws_tls' and 'uri' conflict: ws_tls is on but uri %q is ws://", shown)
		}
		if core.Host != "" && !strings.EqualFold(core.Host, u.Hostname()) {
			return nil, "", fmt.Errorf("keys 'host' and 'uri' conflict: host is %q but uri %q names %q", core.Host, shown, u.Hostname())
		}
		port := defaultPort
		if u.Scheme == "wss" {
			port = defaultTLSPort
		}
		if p := u.Port(); p != "" {
			port, _ = strconv.Atoi(p)
			if port < 1 || port > 65535 {
				return nil, "", fmt.Errorf("invalid port %q in key 'uri' (%q): allowed: 1 to 65535", p, shown)
			}
		}
		if core.Port != 0 && core.Port != port {
			return nil, "", fmt.Errorf("keys 'port' and 'uri' conflict: port is %d but uri %q means port %d", core.Port, shown, port)
		}
		if core.Path != "" && u.Path != "" && core.Path != u.Path {
			return nil, "", pathConflict(core.Path, uri)
		}
		if u.Path == "" {
			u.Path = defaultURI
		}
		return u, dropFragment(u, shown), nil
	}

	var warn string
	if core.Err != nil {
		warn = fmt.Sprintf("cannot read Host and Port from Fluent Bit (%v); using %s unless URI holds a full ws:// or wss:// URL: set e.g. 'URI ws://host:port/path'", core.Err, defaultHost)
	}
	scheme := "ws"
	if useTLS {
		scheme = "wss"
	}
	host := core.Host
	if host == "" {
		host = defaultHost
	}
	port := core.Port
	if port == 0 {
		port = defaultPort
		if useTLS {
			port = defaultTLSPort
		}
	}
	path := defaultURI
	switch {
	case uri != "" && core.Path != "" && strings.TrimPrefix(uri, "/") != strings.TrimPrefix(core.Path, "/"):
		return nil, "", pathConflict(core.Path, uri)
	case uri != "":
		path = uri
	case core.Path != "":
		path = core.Path
	}
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	ref, err := url.Parse(path)
	if err != nil || ref.Host != "" || ref.Scheme != "" {
		return nil, "", fmt.Errorf("invalid value %q for key 'uri': allowed: a path such as /logs (%%-escapes as in RFC 3986), or a ws:// or wss:// URL with a host", shown)
	}
	u := &url.URL{Scheme: scheme, Host: net.JoinHostPort(host, strconv.Itoa(port)), Path: ref.Path, RawPath: ref.RawPath,
		RawQuery: ref.RawQuery, Fragment: ref.Fragment, RawFragment: ref.RawFragment}
	if w := dropFragment(u, shown); w != "" {
		warn = strings.TrimPrefix(warn+"; "+w, "; ")
	}
	return u, warn, nil
}

// checkCorePort refuses a Port out of range: as written when known, else
// as the core stored it (0 is unset).
func checkCorePort(core coreEndpoint) error {
	if core.PortKnown {
		if n, err := strconv.Atoi(strings.TrimSpace(core.PortText)); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("invalid value %q for key 'port': allowed: 1 to 65535", core.PortText)
		}
		return nil
	}
	if core.Port < 0 || core.Port > 65535 {
		return fmt.Errorf("invalid value %d for key 'port': allowed: 1 to 65535", core.Port)
	}
	return nil
}

// pathConflict is the error for a path of -o other than key uri's.
func pathConflict(corePath, uri string) error {
	return fmt.Errorf("the path of -o (%q) and key 'uri' (%q) conflict", redact("uri", corePath), redact("uri", uri))
}

// dropFragment removes a #fragment, which a WebSocket URI cannot have
// (RFC 6455 3), and says so.
func dropFragment(u *url.URL, shown string) string {
	if u.Fragment == "" && u.RawFragment == "" {
		return ""
	}
	u.Fragment, u.RawFragment = "", ""
	return fmt.Sprintf("key 'uri' (%q) has a #fragment, which WebSocket does not allow (RFC 6455): it is not sent", shown)
}

// loadHeaders reads `header` (the built-in's key, "Name value"), the
// numbered header.N keys, and the auth keys that become headers.
func loadHeaders(r *keyReader) http.Header {
	h := http.Header{}
	add := func(key, v string) {
		name, value, _ := strings.Cut(strings.TrimSpace(v), " ")
		name = strings.TrimSuffix(name, ":")
		if name == "" || strings.TrimSpace(value) == "" || strings.ContainsAny(name, " \t\r\n:") || strings.ContainsAny(value, "\r\n") {
			r.fail(key, v, "allowed: a header name, a space, and its value, e.g. 'X-Key value'")
			return
		}
		h.Add(name, strings.TrimSpace(value))
	}
	if v := r.src.Get("header"); v != "" {
		add("header", v)
	}
	for i := 0; i <= maxNumberedHeaders; i++ {
		key := headerKeyPrefix + strconv.Itoa(i)
		if v := r.src.Get(key); v != "" {
			add(key, v)
		}
	}

	user, pass := r.src.Get("http_user"), r.src.Get("http_passwd")
	token := r.string("bearer_token", "")
	switch {
	case user != "" && token != "":
		r.errs = append(r.errs, errors.New("keys 'http_user' and 'bearer_token' conflict: both set the Authorization header"))
	case user != "":
		h.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(user+":"+pass)))
	case pass != "":
		r.errs = append(r.errs, errors.New("key 'http_passwd' is set without 'http_user'"))
	case token != "":
		h.Set("Authorization", "Bearer "+token)
	}
	if o := r.string("origin", ""); o != "" {
		h.Set("Origin", o)
	}
	return h
}

// reservedHeaders are made by the handshake itself; a second value would
// fail every handshake ("duplicate header"), so they are refused at start.
var reservedHeaders = []string{"Connection", "Upgrade", "Sec-Websocket-Key", "Sec-Websocket-Version", "Sec-Websocket-Extensions"}

func checkReservedHeaders(h http.Header, subprotocols bool) error {
	names := reservedHeaders
	if subprotocols {
		names = append(names[:len(names):len(names)], "Sec-Websocket-Protocol")
	}
	for _, n := range names {
		if _, ok := h[n]; ok {
			return fmt.Errorf("header %s is set by the WebSocket handshake itself and cannot be set with 'header' keys (for Sec-WebSocket-Protocol use 'subprotocols')", n)
		}
	}
	return nil
}

// loadProxy returns the `proxy` key's URL, or the environment's
// HTTP_PROXY/HTTPS_PROXY/NO_PROXY when the key is unset.
func loadProxy(r *keyReader) func(*http.Request) (*url.URL, error) {
	v := r.string("proxy", "")
	if v == "" {
		return func(req *http.Request) (*url.URL, error) {
			u, err := http.ProxyFromEnvironment(req)
			if err != nil {
				// net/http quotes the whole value, credentials included.
				return nil, errors.New("the proxy in HTTPS_PROXY or HTTP_PROXY is not a valid URL")
			}
			return u, nil
		}
	}
	u, err := url.Parse(v)
	// gorilla/websocket speaks CONNECT to http:// proxies only.
	if err != nil || u.Scheme != "http" || u.Host == "" {
		r.fail("proxy", v, "allowed: an http:// URL such as http://proxy:3128")
		return nil
	}
	return http.ProxyURL(u)
}

// checkCoreTLS refuses `tls on`: Fluent Bit's TLS, which a Go plugin does
// not get. Fluent Bit 4.0.3 and later stop at start on it themselves;
// before, they log the refusal and run the instance without TLS, which
// would send in clear what was meant to be encrypted. tls.* keys do
// nothing: a warning names this plugin's key for each.
func checkCoreTLS(keys map[string]string) ([]string, error) {
	var err error
	if v := keys["tls"]; slices.Contains([]string{"on", "true", "yes"}, strings.ToLower(strings.TrimSpace(v))) {
		err = fmt.Errorf("invalid value %q for key 'tls': Fluent Bit's TLS does not apply to this plugin; allowed: off, and 'ws_tls on' or a wss:// URI for TLS", v)
	}
	var warnings []string
	for _, k := range slices.Sorted(maps.Keys(keys)) {
		if k == "tls" {
			continue
		}
		if ours := "ws_" + k; slices.Contains(tlsKeys, ours) {
			warnings = append(warnings, fmt.Sprintf("key '%s' is Fluent Bit's and does nothing for this plugin: use '%s'", k, ours))
		} else {
			warnings = append(warnings, fmt.Sprintf("key '%s' is Fluent Bit's and does nothing for this plugin, which has no such setting", k))
		}
	}
	return warnings, err
}

// tlsKeys are ours, named ws_tls.*: Fluent Bit's core keeps tls and every
// tls.* key for itself and never shows them to a Go plugin.
var tlsKeys = []string{"ws_tls.verify", "ws_tls.ca_file", "ws_tls.crt_file", "ws_tls.key_file", "ws_tls.vhost", "ws_tls.min_version"}

func tlsKeysSet(src configSource) bool {
	for _, k := range tlsKeys {
		if src.Get(k) != "" {
			return true
		}
	}
	return false
}

func loadTLS(r *keyReader, host string) (*tls.Config, []string) {
	var warns []string
	tc := &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
	if v := r.string("ws_tls.vhost", ""); v != "" {
		tc.ServerName = v
	}
	if v := r.string("ws_tls.min_version", ""); v != "" {
		ver, ok := tlsVersions[strings.TrimPrefix(strings.ToUpper(v), "TLSV")]
		if !ok {
			names := make([]string, 0, len(tlsVersions))
			for n := range tlsVersions {
				names = append(names, n)
			}
			sort.Strings(names)
			r.fail("ws_tls.min_version", v, "allowed: "+strings.Join(names, ", "))
		}
		tc.MinVersion = ver
	}
	if !r.bool("ws_tls.verify", true) {
		tc.InsecureSkipVerify = true
		warns = append(warns, "ws_tls.verify is off: the server's certificate is NOT checked, anyone on the path can read and change the records")
	}
	if f := r.string("ws_tls.ca_file", ""); f != "" {
		pem, err := os.ReadFile(f)
		pool := x509.NewCertPool()
		if err != nil {
			r.errs = append(r.errs, fmt.Errorf("key 'ws_tls.ca_file': %w", err))
		} else if !pool.AppendCertsFromPEM(pem) {
			r.errs = append(r.errs, fmt.Errorf("key 'ws_tls.ca_file': no PEM certificate in %s", f))
		}
		tc.RootCAs = pool
	}
	crt, key := r.string("ws_tls.crt_file", ""), r.string("ws_tls.key_file", "")
	switch {
	case crt != "" && key != "":
		pair, err := tls.LoadX509KeyPair(crt, key)
		if err != nil {
			r.errs = append(r.errs, fmt.Errorf("keys 'ws_tls.crt_file' and 'ws_tls.key_file': %w", err))
		}
		tc.Certificates = []tls.Certificate{pair}
	case crt != "" || key != "":
		r.errs = append(r.errs, errors.New("keys 'ws_tls.crt_file' and 'ws_tls.key_file' go together: set both or neither"))
	}
	return tc, warns
}

// String is the startup line's account of the settings that matter. Header
// values are left out: they often hold credentials.
func (c *config) String() string {
	var b strings.Builder
	if u := c.Upstream; u != nil {
		fmt.Fprintf(&b, "upstream %s (%s):", u.Name, u.Path)
		for i, n := range u.Nodes {
			sep := ","
			if i == 0 {
				sep = ""
			}
			fmt.Fprintf(&b, "%s %s", sep, n.Conn.LogURL)
		}
		fmt.Fprintf(&b, "; format %s", c.Encoder.Format)
	} else {
		fmt.Fprintf(&b, "endpoint %s, format %s", c.Conn.LogURL, c.Encoder.Format)
	}
	if f := c.Encoder.Format; f == encoder.JSON || f == encoder.JSONStream || f == encoder.JSONLines {
		key := c.Encoder.DateKey
		if key == "" {
			key = "false"
		}
		fmt.Fprintf(&b, " (json_date_key %s, json_date_format %s)", key, c.Encoder.DateFormat)
	}
	if c.Encoder.MaxMessageSize > 0 {
		fmt.Fprintf(&b, ", max_message_size %d", c.Encoder.MaxMessageSize)
	}
	if c.Encoder.MessageLimit != defaultMessageLimit {
		fmt.Fprintf(&b, ", message_size_limit %d", c.Encoder.MessageLimit)
	}
	fmt.Fprintf(&b, ", idle_interval %s, connect_timeout %s, write_timeout %s", c.Conn.IdleInterval, c.Conn.ConnectTimeout, c.Conn.WriteTimeout)
	if c.Conn.PingInterval > 0 {
		fmt.Fprintf(&b, ", ping_interval %s, ping_timeout %s", c.Conn.PingInterval, c.Conn.PingTimeout)
	}
	if c.Conn.TLS != nil {
		fmt.Fprintf(&b, ", tls verify %t", !c.Conn.TLS.InsecureSkipVerify)
	}
	if len(c.Conn.Header) > 0 {
		names := make([]string, 0, len(c.Conn.Header))
		for n := range c.Conn.Header {
			names = append(names, n)
		}
		sort.Strings(names)
		fmt.Fprintf(&b, ", headers %s", strings.Join(names, " "))
	}
	if a := describeAuth(c.Conn.Auth); a != "" {
		fmt.Fprintf(&b, ", %s", a)
	}
	if len(c.Conn.Subprotocols) > 0 {
		fmt.Fprintf(&b, ", subprotocols %s", strings.Join(c.Conn.Subprotocols, ","))
	}
	if c.Conn.Compression {
		b.WriteString(", compress on")
	}
	if !c.Conn.ConfirmDelivery {
		b.WriteString(", confirm_delivery off")
	}
	return b.String()
}
