package main

import (
	"cmp"
	"encoding/base64"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"unicode"
)

// redacted replaces a secret in a log line.
const redacted = "xxxxx"

// redact is the one way a configuration value reaches a log line: the value
// of key as it may be shown. Endpoints and proxies (uri, proxy) lose their
// userinfo, query values and fragment; headers keep their name but lose
// the value when the name says it is a credential; keys that hold
// credentials lose all of it. It works on text, not on a parsed URL, so a
// value too broken to parse is hidden all the same.
func redact(key, value string) string {
	key = strings.ToLower(key)
	switch {
	case key == "uri" || key == "proxy":
		return redactURL(value)
	case key == "header" || strings.HasPrefix(key, headerKeyPrefix):
		return redactHeaderLine(value)
	case secretName(key):
		return redacted
	}
	return value
}

// secretWords are the parts of a key or header name that say its value is
// a credential (api-key and apikey hold "key", passwd and password "passw").
var secretWords = []string{"auth", "token", "key", "secret", "passw", "passphrase", "credential", "jwt", "assertion",
	"private", "signature", "cookie", "session"}

// secretName tells whether a key or header name says its value is a
// credential.
func secretName(name string) bool {
	name = strings.ToLower(name)
	for _, s := range secretWords {
		if strings.Contains(name, s) {
			return true
		}
	}
	return false
}

// redactHeader is a header's value as a log line may show it.
func redactHeader(name, value string) string {
	if secretName(name) {
		return redacted
	}
	return value
}

// redactHeaderLine redacts a `header` key's "Name value"; text that is not
// of that form keeps only what looks like a name before it.
func redactHeaderLine(v string) string {
	name, value := cutHeaderLine(v)
	if value == "" || strings.ContainsAny(name, ":=") {
		if i := strings.IndexFunc(v, func(r rune) bool { return unicode.IsSpace(r) || r == ':' || r == '=' }); i > 0 {
			return v[:i] + " " + redacted
		}
		return redacted
	}
	return name + " " + redactHeader(name, value)
}

// cutHeaderLine splits a `header` key's "Name value" at the first white
// space of any kind (as strings.Fields has it), dropping a colon after the
// name: Fluent Bit splits at a space only, but a tab must not carry a
// secret into the name a log line shows.
func cutHeaderLine(v string) (name, value string) {
	v = strings.TrimSpace(v)
	i := strings.IndexFunc(v, unicode.IsSpace)
	if i < 0 {
		return strings.TrimSuffix(v, ":"), ""
	}
	return strings.TrimSuffix(v[:i], ":"), strings.TrimSpace(v[i:])
}

// redactURL hides the userinfo, every query value and the fragment of a
// URL (or of a path with a query).
func redactURL(s string) string {
	rest, frag, hasFrag := strings.Cut(s, "#")
	rest, query, hasQuery := strings.Cut(rest, "?")
	if scheme, after, ok := strings.Cut(rest, "://"); ok {
		authority, path := after, ""
		if i := strings.IndexByte(after, '/'); i >= 0 {
			authority, path = after[:i], after[i:]
		}
		if i := strings.LastIndexByte(authority, '@'); i >= 0 {
			authority = redacted + authority[i:]
		}
		rest = scheme + "://" + authority + path
	} else if i := strings.LastIndexByte(rest, '@'); i >= 0 {
		rest = redacted + rest[i:]
	}
	var b strings.Builder
	b.WriteString(rest)
	if hasQuery {
		b.WriteByte('?')
		for i, p := range strings.Split(query, "&") {
			if i > 0 {
				b.WriteByte('&')
			}
			name, _, ok := strings.Cut(p, "=")
			switch {
			case ok:
				b.WriteString(name + "=" + redacted)
			case p != "":
				b.WriteString(redacted)
			}
		}
	}
	if hasFrag && frag != "" {
		b.WriteString("#" + redacted)
	}
	return b.String()
}

// minSecret is the shortest credential scrubbed from log lines: a shorter
// one would mangle ordinary words, and hides little anyway.
const minSecret = 4

// secretValues lists the credentials an instance sends, for scrubbing: a
// server's refusal or close reason may quote the request it got. They are
// the values of headers whose names say they are credentials (see
// headerSecrets); the endpoint's query values, decoded and as written; and
// the userinfo of the endpoint and of the proxy.
func secretValues(c connConfig, proxy string) []string {
	var out []string
	add := func(s string) {
		if len(s) >= minSecret {
			out = append(out, s)
		}
	}
	for name, values := range c.Header {
		for _, v := range values {
			out = append(out, headerSecrets(name, v)...)
		}
	}
	for _, raw := range []string{c.URL, proxy} {
		u, err := url.Parse(raw)
		if err != nil {
			continue
		}
		if pass, ok := u.User.Password(); ok {
			add(u.User.Username() + ":" + pass)
			add(pass)
		}
		for _, p := range strings.Split(u.RawQuery, "&") {
			_, v, _ := strings.Cut(p, "=")
			add(v)
		}
		for _, values := range u.Query() {
			for _, v := range values {
				add(v)
			}
		}
	}
	return out
}

// headerSecrets are the secrets of one header, none unless its name says
// it is a credential: its value, each word of it (but an Authorization's
// scheme), and the user:password and password of a Basic one.
func headerSecrets(name, v string) []string {
	if !secretName(name) {
		return nil
	}
	var out []string
	add := func(s string) {
		if len(s) >= minSecret {
			out = append(out, s)
		}
	}
	add(v)
	words := strings.Fields(v)
	if strings.HasSuffix(strings.ToLower(name), "authorization") && len(words) > 1 {
		add(strings.Join(words[1:], " "))
		if strings.EqualFold(words[0], "Basic") {
			if b, err := base64.StdEncoding.DecodeString(words[1]); err == nil {
				_, pass, _ := strings.Cut(string(b), ":")
				add(string(b))
				add(pass)
			}
		}
		words = words[1:]
	}
	for _, w := range words {
		add(w)
	}
	return out
}

// secretForms are the ways a secret may be written in a log line: as is,
// inside a %q-quoted string, URL-escaped (as a query value or a path), and
// in base64 (standard and URL alphabets; without the padding, so that the
// padded form loses all but its "=").
func secretForms(s string) []string {
	q, qa := strconv.Quote(s), strconv.QuoteToASCII(s)
	b := []byte(s)
	return []string{s, q[1 : len(q)-1], qa[1 : len(qa)-1], url.QueryEscape(s), url.PathEscape(s),
		base64.RawStdEncoding.EncodeToString(b), base64.RawURLEncoding.EncodeToString(b)}
}

// secretSet is every credential an instance sends, for scrubbing: the
// fixed ones of its configuration, and the latest values of those that
// change while it runs (an OAuth2 token, a file's content). Lines are
// scrubbed with a replacer rebuilt at each change.
type secretSet struct {
	mu       sync.Mutex
	fixed    []string
	changing map[any][][]string // by source: its latest values, newest last
	r        atomic.Pointer[strings.Replacer]
}

// keepChanged is how many values of a changing secret stay scrubbed: the
// current one and the one before, which a line about a connection made
// with it may still carry.
const keepChanged = 2

// add registers fixed secrets.
func (s *secretSet) add(secrets ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fixed = append(s.fixed, secrets...)
	s.rebuild()
}

// learn registers the secrets that make the new value of a changing
// credential, source; the oldest value of source beyond keepChanged is
// forgotten.
func (s *secretSet) learn(source any, secrets ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	values := s.changing[source]
	if n := len(values); n > 0 && slices.Equal(values[n-1], secrets) {
		return
	}
	if s.changing == nil {
		s.changing = map[any][][]string{}
	}
	values = append(values, secrets)
	s.changing[source] = values[max(0, len(values)-keepChanged):]
	s.rebuild()
}

// rebuild makes the replacer of every form of every secret; under mu.
func (s *secretSet) rebuild() {
	var forms []string
	collect := func(secrets []string) {
		for _, secret := range secrets {
			for _, f := range secretForms(secret) {
				if len(f) >= minSecret {
					forms = append(forms, f)
				}
			}
		}
	}
	collect(s.fixed)
	for _, values := range s.changing {
		for _, v := range values {
			collect(v)
		}
	}
	if len(forms) == 0 {
		s.r.Store(nil)
		return
	}
	// Longest first: a secret that holds another is replaced whole.
	slices.SortFunc(forms, func(a, b string) int { return cmp.Or(len(b)-len(a), strings.Compare(a, b)) })
	forms = slices.Compact(forms)
	pairs := make([]string, 0, 2*len(forms))
	for _, f := range forms {
		pairs = append(pairs, f, redacted)
	}
	s.r.Store(strings.NewReplacer(pairs...))
}

// scrub replaces every form of every secret in line.
func (s *secretSet) scrub(line string) string {
	if r := s.r.Load(); r != nil {
		return r.Replace(line)
	}
	return line
}

// scrubbing wraps log so that no line it prints carries one of secrets, in
// any of its forms, whatever put it there: those known now and those
// learnt later.
func scrubbing(log logger, secrets *secretSet) logger {
	return scrubLogger{log, secrets}
}

type scrubLogger struct {
	log     logger
	secrets *secretSet
}

// Debugf formats and scrubs nothing when debug lines are off: a flush logs
// one at debug level.
func (s scrubLogger) Debugf(format string, args ...any) {
	if l, ok := s.log.(interface{ enabled(level int) bool }); ok && !l.enabled(levelDebug) {
		return
	}
	s.log.Debugf("%s", s.line(format, args))
}

func (s scrubLogger) line(format string, args []any) string {
	return s.secrets.scrub(fmt.Sprintf(format, args...))
}

func (s scrubLogger) Errorf(format string, args ...any) { s.log.Errorf("%s", s.line(format, args)) }
func (s scrubLogger) Warnf(format string, args ...any)  { s.log.Warnf("%s", s.line(format, args)) }
func (s scrubLogger) Infof(format string, args ...any)  { s.log.Infof("%s", s.line(format, args)) }
