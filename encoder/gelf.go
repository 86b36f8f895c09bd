// gelf.go writes records as GELF 1.1 objects, with Fluent Bit's field
// mapping where it loses nothing (GELF.md).

package encoder

import (
	"bytes"
	"encoding/binary"
	"math"
	"strconv"
)

// GELF roles of record entries; see GELF.md for the mapping and how it
// differs from Fluent Bit's.
const (
	roleCustom = iota
	roleShort
	roleFull
	roleHost
	roleLevel
	roleTimestamp
	roleSkip // repeated special key, "id" or a key that is not a string
)

// gelfEntry is a body entry of the record being written in GELF.
type gelfEntry struct {
	key    []byte // str or bin key; nil for other keys, which GELF drops
	valPos int
	role   uint8
}

type gelfKeys struct {
	short, full, host, level, timestamp []byte
}

// gelfWriter is the GELF writer's configuration and reusable buffers.
type gelfWriter struct {
	keys    gelfKeys
	entries []gelfEntry // body entries of the record being written
	name    []byte      // field name being built: '_' and the key path
	text    []byte      // an array or scalar as JSON text, before it is quoted
	keyText []byte      // a non-string key as JSON text
}

func newGELFKeys(k GELFKeys) gelfKeys {
	pick := func(s, def string) []byte {
		if s == "" {
			s = def
		}
		return []byte(s)
	}
	d := DefaultGELFKeys
	return gelfKeys{
		short:     pick(k.ShortMessage, d.ShortMessage),
		full:      pick(k.FullMessage, d.FullMessage),
		host:      pick(k.Host, d.Host),
		level:     pick(k.Level, d.Level),
		timestamp: pick(k.Timestamp, d.Timestamp),
	}
}

var (
	gelfVersion   = []byte(`{"version":"1.1"`)
	keyMessage    = []byte("message")
	keyID         = []byte("id")
	gelfFieldName = [...]string{
		roleShort:     `,"short_message":`,
		roleFull:      `,"full_message":`,
		roleHost:      `,"host":`,
		roleLevel:     `,"level":`,
		roleTimestamp: `,"timestamp":`,
	}
)

// syslogLevels maps the syslog severity keywords GELF levels are named by.
var syslogLevels = map[string]int{
	"emerg": 0, "emergency": 0, "alert": 1, "crit": 2, "critical": 2,
	"err": 3, "error": 3, "warn": 4, "warning": 4, "notice": 5,
	"info": 6, "informational": 6, "debug": 7,
}

// gelfKeyChar[c] is true for the bytes GELF allows in field names.
var gelfKeyChar [256]bool

func init() {
	for c := 0; c < 256; c++ {
		gelfKeyChar[c] = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '_' || c == '.' || c == '-'
	}
}

// appendGELF writes the event as one GELF 1.1 object. It reports skipped
// (and writes nothing) when the record has no short message, not even in a
// log or message field.
func (e *Encoder) appendGELF(dst, b []byte, ev *rawEvent) (_ []byte, end int, skipped bool, err error) {
	e.gelf.entries = e.gelf.entries[:0]
	k, n, q, herr := lenHeader(b, ev.bodyPos)
	if herr == nil && k >= tFixMap && k <= tMap32 {
		if err = checkCount(b, ev.bodyPos, q, n, 2); err != nil {
			return dst, ev.bodyPos, false, err
		}
		for i := 0; i < n; i++ {
			var en gelfEntry
			if q < len(b) && classOf[b[q]] >= tFixStr && classOf[b[q]] <= tBin32 {
				en.key, q, err = readString(b, q)
			} else {
				q, err = skipValue(b, q, 1)
			}
			if err != nil {
				return dst, q, false, err
			}
			en.valPos = q
			if q >= len(b) {
				return dst, q, false, errTruncated(q)
			}
			if m := int(valueSize[b[q]]); m != 0 && m <= len(b)-q {
				q += m // a scalar or short string, skipped without a call
			} else if q, err = skipValue(b, q, 1); err != nil {
				return dst, q, false, err
			}
			e.gelf.entries = append(e.gelf.entries, en)
		}
		end = q
	} else {
		// A body that is not a map is the record's log line, as in JSON.
		if end, err = skipValue(b, ev.bodyPos, 0); err != nil {
			return dst, end, false, err
		}
		e.gelf.entries = append(e.gelf.entries, gelfEntry{key: keyLog, valPos: ev.bodyPos})
	}
	ents := e.gelf.entries
	if !e.assignRoles(b, ents) {
		return dst, end, true, nil
	}

	dst = append(dst, gelfVersion...)
	hasTime := false
	for i := range ents {
		en := &ents[i]
		switch en.role {
		case roleSkip:
			continue
		case roleShort, roleFull, roleHost:
			dst = append(dst, gelfFieldName[en.role]...)
			dst = e.appendGELFString(dst, b, en.valPos)
			continue
		case roleLevel:
			if lvl, ok := gelfLevel(b, en.valPos); ok {
				dst = append(dst, gelfFieldName[roleLevel]...)
				dst = append(dst, byte('0'+lvl))
				continue
			}
		case roleTimestamp:
			mark := len(dst)
			dst = append(dst, gelfFieldName[roleTimestamp]...)
			if out, ok := appendGELFNumber(dst, b, en.valPos); ok {
				dst, hasTime = out, true
				continue
			}
			dst = dst[:mark]
		}
		e.gelf.name = append(e.gelf.name[:0], '_')
		e.gelf.name = appendGELFName(e.gelf.name, en.key)
		dst = e.appendGELFField(dst, b, en.valPos, 1)
		if e.overLimit(dst) {
			break
		}
	}
	if !hasTime {
		dst = append(dst, gelfFieldName[roleTimestamp]...)
		dst = appendGELFTime(dst, ev.sec, ev.nsec)
	}
	return append(dst, '}'), end, false, nil
}

// assignRoles gives each entry its GELF role and reports whether the record
// has a short message. As in Fluent Bit the first entry of each special key
// wins and later ones are dropped. A record without a usable short message
// falls back to its log field, then to its message field.
func (e *Encoder) assignRoles(b []byte, ents []gelfEntry) bool {
	var seen [roleSkip]bool
	for i := range ents {
		en := &ents[i]
		if en.key == nil {
			en.role = roleSkip
			continue
		}
		role := roleCustom
		switch {
		case bytes.Equal(en.key, e.gelf.keys.host):
			role = roleHost
		case bytes.Equal(en.key, e.gelf.keys.short):
			role = roleShort
		case bytes.Equal(en.key, e.gelf.keys.timestamp):
			role = roleTimestamp
		case bytes.Equal(en.key, e.gelf.keys.level):
			role = roleLevel
		case bytes.Equal(en.key, e.gelf.keys.full):
			role = roleFull
		case bytes.Equal(en.key, keyID):
			role = roleSkip
		}
		if role != roleCustom && role != roleSkip {
			if seen[role] {
				role = roleSkip
			} else {
				seen[role] = true
			}
		}
		// Host and messages must be strings; other values stay as
		// ordinary fields so that nothing is lost.
		if (role == roleShort || role == roleFull || role == roleHost) && !gelfStringable(b, en.valPos) {
			role = roleCustom
		}
		en.role = uint8(role)
	}
	for i := range ents {
		if ents[i].role == roleShort {
			return true
		}
	}
	for _, key := range [...][]byte{keyLog, keyMessage} {
		for i := range ents {
			en := &ents[i]
			if en.role == roleCustom && bytes.Equal(en.key, key) && gelfStringable(b, en.valPos) {
				en.role = roleShort
				return true
			}
		}
	}
	return false
}

// gelfStringable reports whether the value at p can be written as a GELF
// string: a scalar other than nil.
func gelfStringable(b []byte, p int) bool {
	switch classOf[b[p]] {
	case tNil, tFixArr, tArr16, tArr32, tFixMap, tMap16, tMap32:
		return false
	}
	return true
}

// appendGELFString writes a scalar as a JSON string: numbers and booleans
// by their JSON text.
func (e *Encoder) appendGELFString(dst, b []byte, p int) []byte {
	if k := classOf[b[p]]; k >= tFixStr && k <= tBin32 {
		s, _, _ := readString(b, p)
		return appendString(dst, s, e.opts.EscapeUnicode)
	}
	if k := classOf[b[p]]; k >= tFixExt1 {
		dst, _, _ = e.appendValue(dst, b, p, 0)
		return dst
	}
	e.gelf.text, _, _ = e.appendValue(e.gelf.text[:0], b, p, 0)
	return appendString(dst, e.gelf.text, false)
}

// gelfLevel maps a level value to a syslog severity: 0..7 as a number or a
// string, or a syslog keyword.
func gelfLevel(b []byte, p int) (int, bool) {
	switch k := classOf[b[p]]; {
	case k >= tPosFix && k <= tI64:
		v, ok, _, _ := readInt(b, p)
		return int(v), ok && v >= 0 && v <= 7
	case k == tF32 || k == tF64:
		f, _, _ := readFloat(b, p)
		return int(f), f >= 0 && f <= 7 && f == math.Trunc(f)
	case k >= tFixStr && k <= tBin32:
		s, _, _ := readString(b, p)
		if len(s) == 1 && s[0] >= '0' && s[0] <= '7' {
			return int(s[0] - '0'), true
		}
		if len(s) > len("informational") {
			return 0, false
		}
		var lower [len("informational")]byte
		for i, c := range s {
			if c >= 'A' && c <= 'Z' {
				c += 'a' - 'A'
			}
			lower[i] = c
		}
		lvl, ok := syslogLevels[string(lower[:len(s)])]
		return lvl, ok
	}
	return 0, false
}

// appendGELFNumber writes an integer or a finite float; ok is false (and
// nothing written) for any other value.
func appendGELFNumber(dst, b []byte, p int) ([]byte, bool) {
	switch k := classOf[b[p]]; {
	case k == tU64:
		return strconv.AppendUint(dst, binary.BigEndian.Uint64(b[p+1:]), 10), true
	case k >= tPosFix && k <= tI64:
		v, _, _, _ := readInt(b, p)
		return strconv.AppendInt(dst, v, 10), true
	case k == tF32 || k == tF64:
		f, _, _ := readFloat(b, p)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return dst, false
		}
		return appendShortest(dst, f), true
	}
	return dst, false
}

// appendShortest writes f with the fewest digits that read back to the
// same float64, as encoding/json does, keeping a ".0" on whole values so
// they stay floats for the receiver.
func appendShortest(dst []byte, f float64) []byte {
	if a := math.Abs(f); a != 0 && (a < 1e-6 || a >= 1e21) {
		return strconv.AppendFloat(dst, f, 'e', -1, 64)
	}
	mark := len(dst)
	dst = strconv.AppendFloat(dst, f, 'f', -1, 64)
	if bytes.IndexByte(dst[mark:], '.') < 0 {
		dst = append(dst, '.', '0')
	}
	return dst
}

// appendGELFTime writes the event time in seconds with its sub-second
// digits (nanoseconds, trailing zeros trimmed down to milliseconds).
func appendGELFTime(dst []byte, sec, nsec int64) []byte {
	if sec < 0 && nsec > 0 {
		dst = append(dst, '-')
		sec, nsec = -(sec + 1), 1e9-nsec
	}
	dst = strconv.AppendInt(dst, sec, 10)
	var frac [9]byte
	for i := 8; i >= 0; i-- {
		frac[i] = byte('0' + nsec%10)
		nsec /= 10
	}
	n := 9
	for n > 3 && frac[n-1] == '0' {
		n--
	}
	dst = append(dst, '.')
	return append(dst, frac[:n]...)
}

// appendGELFName appends key with every byte GELF does not allow in field
// names replaced by '_', as Fluent Bit does.
func appendGELFName(dst, key []byte) []byte {
	for _, c := range key {
		if !gelfKeyChar[c] {
			c = '_'
		}
		dst = append(dst, c)
	}
	return dst
}

// appendGELFField writes the value at p as additional field(s) named
// e.gelf.name: maps are flattened with their keys joined by '_', arrays become
// their JSON text, nil and non-finite floats are left out.
func (e *Encoder) appendGELFField(dst, b []byte, p, depth int) []byte {
	switch k := classOf[b[p]]; {
	case k == tNil:
		return dst
	case k == tFalse || k == tTrue || k >= tFixStr && k <= tBin32 || k >= tFixExt1:
		dst = e.openGELFField(dst)
		return e.appendGELFString(dst, b, p)
	case k >= tFixArr && k <= tArr32:
		dst = e.openGELFField(dst)
		e.gelf.text, _, _ = e.appendValue(e.gelf.text[:0], b, p, depth)
		return appendString(dst, e.gelf.text, false)
	case k >= tFixMap && k <= tMap32:
		_, n, q, _ := lenHeader(b, p)
		for i := 0; i < n; i++ {
			mark := len(e.gelf.name)
			e.gelf.name = append(e.gelf.name, '_')
			if kk := classOf[b[q]]; kk >= tFixStr && kk <= tBin32 {
				var s []byte
				s, q, _ = readString(b, q)
				e.gelf.name = appendGELFName(e.gelf.name, s)
			} else {
				e.gelf.keyText, q, _ = e.appendValue(e.gelf.keyText[:0], b, q, depth+1)
				e.gelf.name = appendGELFName(e.gelf.name, e.gelf.keyText)
			}
			dst = e.appendGELFField(dst, b, q, depth+1)
			q, _ = skipValue(b, q, depth+1)
			e.gelf.name = e.gelf.name[:mark]
			if e.overLimit(dst) {
				break
			}
		}
		return dst
	}
	mark := len(dst)
	dst = e.openGELFField(dst)
	if out, ok := appendGELFNumber(dst, b, p); ok {
		return out
	}
	return dst[:mark]
}

// openGELFField writes the separator and the name of field e.gelf.name.
func (e *Encoder) openGELFField(dst []byte) []byte {
	dst = append(dst, ',', '"')
	dst = append(dst, e.gelf.name...)
	return append(dst, '"', ':')
}
