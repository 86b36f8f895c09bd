// json.go writes records as JSON: the record object with its synthetic
// entries (date, __internal__, log), map keys, and every msgpack value.

package encoder

import (
	"encoding/binary"
	"strconv"

	"github.com/vmihailenco/msgpack/v5/msgpcode"
)

var (
	keyInternal        = []byte("__internal__")
	keyLog             = []byte("log")
	keyGroupAttributes = []byte(`"group_attributes":`)
	keyLogMetadata     = []byte(`"log_metadata":`)
)

// appendSynth writes a synthetic entry of the record map and records it.
func (e *Encoder) appendSynth(dst, b []byte, field synthField, keys *keyFilter, maybeDup *bool) []byte {
	en := entry{out: len(dst), key: -1 - int32(field), hash: e.synthHash[field], str: true}
	key := e.entryKey(&en)
	*maybeDup = keys.add(en.hash) || *maybeDup
	if e.dups.tracking {
		e.dups.entries = append(e.dups.entries, en)
	}
	dst = appendString(dst, key, e.opts.EscapeUnicode)
	dst = append(dst, ':')
	switch field {
	case synthDate:
		return e.dates.appendTime(dst, e.cur.sec, e.cur.nsec)
	case synthLog:
		return dst // the caller writes the body
	}
	// __internal__: values validated when the event headers were read.
	dst = append(dst, '{')
	if e.dec.inGroup {
		dst = append(dst, keyGroupAttributes...)
		dst, _, _ = e.appendValue(dst, b, e.dec.group.bodyPos, 0)
		dst = append(dst, ',')
	}
	dst = append(dst, keyLogMetadata...)
	if e.cur.metaPos >= 0 {
		dst, _, _ = e.appendValue(dst, b, e.cur.metaPos, 0)
	} else {
		dst = append(dst, '{', '}')
	}
	return append(dst, '}')
}

// appendRecord writes the event whose header is ev as one JSON object: the
// date key, then __internal__ when there is metadata or group attributes,
// then the body entries (or "log": body when the body is not a map). It
// returns the position after the body.
func (e *Encoder) appendRecord(dst, b []byte, ev *rawEvent) ([]byte, int, error) {
	dst = append(dst, '{')
	open, base := len(dst), len(e.dups.entries)
	var keys keyFilter
	maybeDup := false
	if e.dateKey != nil {
		dst = e.appendSynth(dst, b, synthDate, &keys, &maybeDup)
	}
	if e.hasInternal(b, ev) {
		if len(dst) > open {
			dst = append(dst, ',')
		}
		dst = e.appendSynth(dst, b, synthInternal, &keys, &maybeDup)
	}
	var end int
	var err error
	k, n, q, herr := lenHeader(b, ev.bodyPos)
	if herr == nil && k >= tFixMap && k <= tMap32 {
		if err = checkCount(b, ev.bodyPos, q, n, 2); err != nil {
			return dst, ev.bodyPos, err
		}
		dst, end, err = e.appendEntries(dst, b, q, n, 0, len(dst) > open, &keys, &maybeDup)
	} else {
		if len(dst) > open {
			dst = append(dst, ',')
		}
		dst = e.appendSynth(dst, b, synthLog, &keys, &maybeDup)
		dst, end, err = e.appendValue(dst, b, ev.bodyPos, 0)
	}
	if err == nil && maybeDup {
		if !e.dups.tracking {
			return e.writeTracked(func() ([]byte, int, error) { return e.appendRecord(dst[:open-1], b, ev) })
		}
		if e.markDups(base) {
			dst = e.compact(dst, open, base)
		}
	}
	e.dups.entries = e.dups.entries[:base]
	return append(dst, '}'), end, err
}

// hasInternal reports whether Fluent Bit would add __internal__: when the
// record metadata or the group attributes are a non-empty map.
func (e *Encoder) hasInternal(b []byte, ev *rawEvent) bool {
	if n, ok := isMap(b, ev.metaPos); ok && n > 0 {
		return true
	}
	if e.dec.inGroup {
		n, ok := isMap(b, e.dec.group.bodyPos)
		return ok && n > 0
	}
	return false
}

// appendEntries writes the n entries of a map starting at p, recording them
// on e.dups.entries and their key hashes in keys; maybeDup is set when the map may
// have duplicate keys. depth is the map's own nesting depth.
func (e *Encoder) appendEntries(dst, b []byte, p, n, depth int, comma bool, keys *keyFilter, maybeDup *bool) ([]byte, int, error) {
	var err error
	for i := 0; i < n; i++ {
		if comma || i > 0 {
			dst = append(dst, ',')
		}
		// The entry, kept only when tracking (see writeTracked).
		out, kpos, klen, h, str := len(dst), 0, 0, uint32(0), false
		if p >= len(b) {
			return dst, p, errTruncated(p)
		}
		if c := b[p]; classOf[c] == tFixStr {
			q := p + 1 + int(c&msgpcode.FixedStrMask)
			if q > len(b) {
				return dst, p, errTruncated(p)
			}
			key := b[p+1 : q]
			if n := len(key); n > 0 && n <= 8 && p+9 <= len(b) {
				// Most keys are short: one word to check, hash and copy
				// (all 8 bytes, then cut back to the key).
				keep := ^uint64(0) >> (64 - 8*n)
				w := binary.LittleEndian.Uint64(b[p+1:]) & keep
				h = uint32(mixWord(uint64(n)*0x9e3779b97f4a7c15, w) >> 32)
				if specialMask(w)&keep == 0 {
					m := len(dst) + 1 + n
					dst = binary.LittleEndian.AppendUint64(append(dst, '"'), w)[:m]
					dst = append(dst, '"', ':')
				} else {
					dst = appendString(dst, key, e.opts.EscapeUnicode)
					dst = append(dst, ':')
				}
			} else {
				h = keyHash(key)
				dst = appendString(dst, key, e.opts.EscapeUnicode)
				dst = append(dst, ':')
			}
			kpos, klen, str = p+1, len(key), true
			if keys.add(h) {
				*maybeDup = true
			}
			p = q
		} else if isString(b, p) {
			var key []byte
			if key, p, err = readString(b, p); err != nil {
				return dst, p, err
			}
			dst = appendString(dst, key, e.opts.EscapeUnicode)
			dst = append(dst, ':')
			kpos, klen, h, str = p-len(key), len(key), keyHash(key), true
			if keys.add(h) {
				*maybeDup = true
			}
		} else {
			if dst, p, err = e.appendKey(dst, b, p, depth+1); err != nil {
				return dst, p, err
			}
			dst = append(dst, ':')
		}
		if e.dups.tracking {
			e.dups.entries = append(e.dups.entries, entry{out: out, key: int32(kpos), klen: int32(klen), hash: h, str: str})
		}
		if dst, p, err = e.appendValue(dst, b, p, depth+1); err != nil {
			return dst, p, err
		}
	}
	return dst, p, nil
}

// appendKey writes a map key that is not a msgpack str. Fluent Bit writes
// such keys bare (1:"x"), which is not JSON; here they become strings: a
// bin's bytes, or the JSON text of any other value. Keys inside that text
// are left bare, so that keys of keys are not escaped over and over.
func (e *Encoder) appendKey(dst, b []byte, p, depth int) ([]byte, int, error) {
	if p >= len(b) {
		return dst, p, errTruncated(p)
	}
	if k := classOf[b[p]]; k >= tBin8 && k <= tBin32 {
		s, q, err := readString(b, p)
		return appendString(dst, s, e.opts.EscapeUnicode), q, err
	}
	if e.inKey {
		return e.appendValue(dst, b, p, depth)
	}
	mark := len(dst)
	e.inKey = true
	dst, q, err := e.appendValue(dst, b, p, depth)
	e.inKey = false
	if err != nil {
		return dst, q, err
	}
	e.keyText = append(e.keyText[:0], dst[mark:]...)
	return appendString(dst[:mark], e.keyText, e.opts.EscapeUnicode), q, nil
}

// appendValue writes the msgpack value at p as JSON and returns the
// position after it. depth is the nesting depth of the value.
func (e *Encoder) appendValue(dst, b []byte, p, depth int) ([]byte, int, error) {
	if p >= len(b) {
		return dst, p, errTruncated(p)
	}
	c := b[p]
	switch classOf[c] {
	case tPosFix:
		return strconv.AppendUint(dst, uint64(c), 10), p + 1, nil
	case tNegFix:
		return strconv.AppendInt(dst, int64(int8(c)), 10), p + 1, nil
	case tNil:
		return append(dst, "null"...), p + 1, nil
	case tFalse:
		return append(dst, "false"...), p + 1, nil
	case tTrue:
		return append(dst, "true"...), p + 1, nil
	case tU64:
		q, err := need(b, p, 9)
		if err != nil {
			return dst, p, err
		}
		return strconv.AppendUint(dst, binary.BigEndian.Uint64(b[p+1:]), 10), q, nil
	case tU16:
		if p+3 <= len(b) {
			return strconv.AppendUint(dst, uint64(binary.BigEndian.Uint16(b[p+1:])), 10), p + 3, nil
		}
		return dst, p, errTruncated(p)
	case tU32:
		if p+5 <= len(b) {
			return strconv.AppendUint(dst, uint64(binary.BigEndian.Uint32(b[p+1:])), 10), p + 5, nil
		}
		return dst, p, errTruncated(p)
	case tU8, tI8, tI16, tI32, tI64:
		v, _, q, err := readInt(b, p)
		if err != nil {
			return dst, p, err
		}
		return strconv.AppendInt(dst, v, 10), q, nil
	case tF32, tF64:
		f, q, err := readFloat(b, p)
		if err != nil {
			return dst, p, err
		}
		return appendDouble(dst, f), q, nil
	case tFixStr:
		q := p + 1 + int(c&msgpcode.FixedStrMask)
		if q > len(b) {
			return dst, p, errTruncated(p)
		}
		return appendString(dst, b[p+1:q], e.opts.EscapeUnicode), q, nil
	case tStr8:
		if p+2 <= len(b) {
			if q := p + 2 + int(b[p+1]); q <= len(b) {
				return appendString(dst, b[p+2:q], e.opts.EscapeUnicode), q, nil
			}
		}
		_, q, err := readString(b, p)
		return dst, q, err
	case tStr16, tStr32, tBin8, tBin16, tBin32:
		s, q, err := readString(b, p)
		if err != nil {
			return dst, p, err
		}
		return appendString(dst, s, e.opts.EscapeUnicode), q, nil
	case tFixArr, tArr16, tArr32:
		n, q, err := containerHeader(b, p, depth, 1)
		if err != nil {
			return dst, p, err
		}
		dst = append(dst, '[')
		for i := 0; i < n; i++ {
			if i > 0 {
				dst = append(dst, ',')
			}
			if dst, q, err = e.appendValue(dst, b, q, depth+1); err != nil {
				return dst, q, err
			}
		}
		return append(dst, ']'), q, nil
	case tFixMap, tMap16, tMap32:
		n, q, err := containerHeader(b, p, depth, 2)
		if err != nil {
			return dst, p, err
		}
		dst = append(dst, '{')
		open, base := len(dst), len(e.dups.entries)
		var keys keyFilter
		maybeDup := false
		dst, q, err = e.appendEntries(dst, b, q, n, depth, false, &keys, &maybeDup)
		if err == nil && maybeDup {
			if !e.dups.tracking {
				return e.writeTracked(func() ([]byte, int, error) { return e.appendValue(dst[:open-1], b, p, depth) })
			}
			if e.markDups(base) {
				dst = e.compact(dst, open, base)
			}
		}
		e.dups.entries = e.dups.entries[:base]
		return append(dst, '}'), q, err
	case tFixExt1, tFixExt2, tFixExt4, tFixExt8, tFixExt16, tExt8, tExt16, tExt32:
		_, n, q, err := lenHeader(b, p)
		if err != nil {
			return dst, p, err
		}
		if n+1 > len(b)-q {
			return dst, p, errAt(p, "ext declares %d bytes, only %d left", n, len(b)-q-1)
		}
		return appendExt(dst, b[q+1:q+1+n]), q + 1 + n, nil
	}
	return dst, p, errAt(p, "invalid type byte 0x%02x", c)
}
