package main

import (
	"encoding/base64"
	"fmt"
	"net/url"
	"sort"
	"strings"
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

// secretName tells whether a key or header name says its value is a
// credential.
func secretName(name string) bool {
	name = strings.ToLower(name)
	if name == "cookie" || name == "set-cookie" {
		return true
	}
	for _, s := range []string{"auth", "token", "key", "secret", "passw", "session", "signature"} {
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
	v = strings.TrimSpace(v)
	name, value, ok := strings.Cut(v, " ")
	if !ok || strings.ContainsAny(name, ":=") {
		if i := strings.IndexAny(v, " :="); i >= 0 {
			return v[:i] + " " + redacted
		}
		return redacted
	}
	return name + " " + redactHeader(name, value)
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

// secretValues lists the credentials an instance sends (values of headers
// whose names say they are credentials, with the token of a Bearer and the
// password of a Basic one, the endpoint's query values, the proxy's
// password), longest first, for scrubbing: a server's refusal or close
// reason may quote the request it got.
func secretValues(c connConfig, proxy string) []string {
	var out []string
	add := func(s string) {
		if len(s) >= minSecret {
			out = append(out, s)
		}
	}
	for name, values := range c.Header {
		if !secretName(name) {
			continue
		}
		for _, v := range values {
			add(v)
			scheme, cred, _ := strings.Cut(v, " ")
			add(cred)
			if strings.EqualFold(scheme, "Basic") {
				if b, err := base64.StdEncoding.DecodeString(cred); err == nil {
					_, pass, _ := strings.Cut(string(b), ":")
					add(pass)
				}
			}
		}
	}
	for _, raw := range []string{c.URL, proxy} {
		u, err := url.Parse(raw)
		if err != nil {
			continue
		}
		if pass, ok := u.User.Password(); ok {
			add(pass)
		}
		for _, values := range u.Query() {
			for _, v := range values {
				add(v)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out
}

// scrubbing wraps log so that no line it prints carries one of secrets,
// whatever put it there.
func scrubbing(log logger, secrets []string) logger {
	if len(secrets) == 0 {
		return log
	}
	pairs := make([]string, 0, 2*len(secrets))
	for _, s := range secrets {
		pairs = append(pairs, s, redacted)
	}
	return scrubLogger{log, strings.NewReplacer(pairs...)}
}

type scrubLogger struct {
	log logger
	r   *strings.Replacer
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
	return s.r.Replace(fmt.Sprintf(format, args...))
}

func (s scrubLogger) Errorf(format string, args ...any) { s.log.Errorf("%s", s.line(format, args)) }
func (s scrubLogger) Warnf(format string, args ...any)  { s.log.Warnf("%s", s.line(format, args)) }
func (s scrubLogger) Infof(format string, args ...any)  { s.log.Infof("%s", s.line(format, args)) }
