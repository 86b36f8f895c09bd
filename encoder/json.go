package encoder

import (
	"encoding/binary"
	"math"
	"math/bits"
	"strconv"
	"unicode/utf8"
)

const hexDigits = "0123456789abcdef"

// plain[c] is true for bytes a JSON string holds as they are: printable
// ASCII other than '"' and '\\'. DEL is escaped as Fluent Bit does.
var plain [256]bool

// shortEscape holds the two-byte escapes Fluent Bit uses; other control
// bytes become \u00XX.
var shortEscape = [128]byte{'"': '"', '\\': '\\', '\n': 'n', '\r': 'r', '\t': 't', '\b': 'b', '\f': 'f'}

func init() {
	for c := 0x20; c < 0x7f; c++ {
		plain[c] = c != '"' && c != '\\'
	}
}

// appendString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD so
// the output is always valid UTF-8, whatever the input.
func appendString(dst, s []byte, escapeUnicode bool) []byte {
	if n := len(s); n <= 8 && cap(s) >= 8 {
		// A short string checked and copied as one word, read past its
		// end within its capacity: specialMask's flags only spread
		// upwards, so shifting out the bytes beyond s leaves its own
		// exact, and the bytes copied beyond it are cut off.
		if w := binary.LittleEndian.Uint64(s[:8]); specialMask(w)<<(64-8*n) == 0 {
			m := len(dst) + 1 + n
			dst = binary.LittleEndian.AppendUint64(append(dst, '"'), w)[:m]
			return append(dst, '"')
		}
	}
	dst = append(dst, '"')
	start, i := 0, 0
	for {
		if i = scanPlain(s, i); i >= len(s) {
			break
		}
		c := s[i]
		if c < utf8.RuneSelf {
			dst = append(dst, s[start:i]...)
			if e := shortEscape[c]; e != 0 {
				dst = append(dst, '\\', e)
			} else {
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := decodeRune(s[i:])
		if size == 0 {
			dst = append(dst, s[start:i]...)
			if escapeUnicode {
				dst = append(dst, `\ufffd`...)
			} else {
				dst = append(dst, "\uFFFD"...)
			}
			i++
			start = i
			continue
		}
		if !escapeUnicode {
			i += size
			continue
		}
		dst = append(dst, s[start:i]...)
		if r > 0xffff {
			r -= 0x10000
			dst = appendU4(dst, 0xd800+r>>10)
			r = 0xdc00 + r&0x3ff
		}
		dst = appendU4(dst, r)
		i += size
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// scanPlain returns the index of the first byte of s[i:] that is not plain,
// or len(s). It looks at 8 bytes at a time: the lowest byte flagged by
// specialMask is always a real one (borrows only propagate upwards).
func scanPlain(s []byte, i int) int {
	for ; i+8 <= len(s); i += 8 {
		if m := specialMask(binary.LittleEndian.Uint64(s[i:])); m != 0 {
			return i + bits.TrailingZeros64(m)>>3
		}
	}
	for i < len(s) && plain[s[i]] {
		i++
	}
	return i
}

// specialMask sets the high bit of the bytes of w that may need escaping:
// control bytes, '"', '\\', DEL and non-ASCII bytes.
func specialMask(w uint64) uint64 {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	zero := func(v uint64) uint64 { return (v - ones) &^ v }
	// w+ones carries DEL (and bytes already flagged) into the high bit.
	return (w | (w - 0x20*ones) | (w + ones) | zero(w^'"'*ones) | zero(w^'\\'*ones)) & highs
}

// decodeRune decodes the UTF-8 sequence starting with the non-ASCII byte
// s[0]; size is 0 when it is invalid (overlong, surrogate, out of range or
// truncated).
func decodeRune(s []byte) (rune, int) {
	c0 := s[0]
	switch {
	case c0 >= 0xc2 && c0 <= 0xdf:
		if len(s) > 1 && s[1]&0xc0 == 0x80 {
			return rune(c0&0x1f)<<6 | rune(s[1]&0x3f), 2
		}
	case c0 >= 0xe0 && c0 <= 0xef:
		if len(s) > 2 && s[1]&0xc0 == 0x80 && s[2]&0xc0 == 0x80 {
			r := rune(c0&0xf)<<12 | rune(s[1]&0x3f)<<6 | rune(s[2]&0x3f)
			if r >= 0x800 && (r < 0xd800 || r > 0xdfff) {
				return r, 3
			}
		}
	case c0 >= 0xf0 && c0 <= 0xf4:
		if len(s) > 3 && s[1]&0xc0 == 0x80 && s[2]&0xc0 == 0x80 && s[3]&0xc0 == 0x80 {
			r := rune(c0&0x7)<<18 | rune(s[1]&0x3f)<<12 | rune(s[2]&0x3f)<<6 | rune(s[3]&0x3f)
			if r >= 0x10000 && r <= utf8.MaxRune {
				return r, 4
			}
		}
	}
	return utf8.RuneError, 0
}

// digitPairs holds the two digits of 0 through 99.
var digitPairs [200]byte

func init() {
	for i := range 100 {
		digitPairs[2*i], digitPairs[2*i+1] = byte('0'+i/10), byte('0'+i%10)
	}
}

// appendDecUint writes u in decimal, two digits per division: the integers of
// log records are short, and strconv's general path costs more than the
// digits themselves.
func appendDecUint(dst []byte, u uint64) []byte {
	if u < 10 {
		return append(dst, byte('0'+u))
	}
	var buf [20]byte
	i := len(buf)
	for u >= 100 {
		q := u / 100
		d := (u - q*100) * 2
		i -= 2
		buf[i], buf[i+1] = digitPairs[d], digitPairs[d+1]
		u = q
	}
	if u >= 10 {
		i -= 2
		buf[i], buf[i+1] = digitPairs[2*u], digitPairs[2*u+1]
	} else {
		i--
		buf[i] = byte('0' + u)
	}
	return append(dst, buf[i:]...)
}

func appendDec(dst []byte, v int64) []byte {
	if v < 0 {
		return appendDecUint(append(dst, '-'), -uint64(v))
	}
	return appendDecUint(dst, uint64(v))
}

func appendU4(dst []byte, r rune) []byte {
	return append(dst, '\\', 'u', hexDigits[r>>12&0xf], hexDigits[r>>8&0xf], hexDigits[r>>4&0xf], hexDigits[r&0xf])
}

// appendDouble formats f as Fluent Bit does: whole values in int64 range as
// %.1f, others as %.16g (C's and strconv's 'g' agree at a given precision).
// NaN and infinities, which Fluent Bit prints as nan/inf, become null to
// keep the JSON valid.
func appendDouble(dst []byte, f float64) []byte {
	switch {
	case math.IsNaN(f) || math.IsInf(f, 0):
		return append(dst, "null"...)
	case f == math.Trunc(f) && f >= -0x1p63 && f < 0x1p63:
		if f == 0 && math.Signbit(f) {
			return append(dst, "-0.0"...)
		}
		return append(appendDec(dst, int64(f)), '.', '0')
	}
	if out, ok := appendG16(dst, f); ok {
		return out
	}
	return strconv.AppendFloat(dst, f, 'g', 16, 64)
}

// pow10f[i] is 10^(i-4), for the decimal exponents appendG16 handles.
var pow10f = [...]float64{1e-4, 1e-3, 1e-2, 1e-1, 1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6,
	1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16}

// put8Digits writes the 8 decimal digits of v < 1e8 into b[:8].
func put8Digits(b []byte, v uint32) {
	_ = b[7]
	for i := 6; i >= 0; i -= 2 {
		q := v / 100
		r := (v - q*100) * 2
		b[i], b[i+1] = digitPairs[r], digitPairs[r+1]
		v = q
	}
}

// pow10 holds the powers of ten that fit in a uint64.
var pow10 = [20]uint64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10,
	1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19}

// appendG16 writes a non-whole f as %.16g does, for 1e-4 <= |f| < 1e16,
// where %g picks the positional form; ok is false outside that range and
// on exact ties, left to strconv. f is m*2^-s, so the 16 digits
// round(|f|*10^k) = round(m*10^k / 2^s) are exact in 128-bit integers;
// strconv's general path costs several times more.
func appendG16(dst []byte, f float64) ([]byte, bool) {
	x := math.Abs(f)
	if !(x >= 1e-4 && x < 1e16) {
		return dst, false
	}
	fb := math.Float64bits(x)
	m := fb&(1<<52-1) | 1<<52
	s := 1075 - int(fb>>52) // x = m / 2^s, 0 < s < 67 in this range
	// exp is the decimal exponent of x: the binary one times log10(2)
	// (78913/2^18 is just under) is exp or exp-1. The doubles nearest
	// 1e-1..1e-4 lie above the true powers, so comparing with them is
	// exact too.
	exp := (int(fb>>52) - 1023) * 78913 >> 18
	if x >= pow10f[exp+5] {
		exp++
	}
	// 10^15 <= x*10^k < 10^16, as m*10^k < 2^117, shifted right by s
	// with the remainder kept for rounding.
	hi, lo := bits.Mul64(m, pow10[15-exp])
	var d, rem, remHi, half, halfHi uint64
	switch {
	case s < 64:
		d, rem, half = hi<<(64-s)|lo>>s, lo&(1<<s-1), 1<<(s-1)
	case s == 64:
		d, rem, half = hi, lo, 1<<63
	default:
		d, remHi, rem, halfHi = hi>>(s-64), hi&(1<<(s-64)-1), lo, 1<<(s-65)
	}
	if remHi == halfHi && rem == half {
		return dst, false
	}
	if remHi > halfHi || remHi == halfHi && rem > half {
		d++
	}
	if d < 1e15 || d >= 1e16 {
		// Not expected (no double is close enough below a power of ten
		// to carry into a 17th digit), but strconv is always right.
		return dst, false
	}
	var digits [16]byte
	put8Digits(digits[:8], uint32(d/1e8))
	put8Digits(digits[8:], uint32(d%1e8))
	// n counts the digits up to the last nonzero one (the first is).
	n := 16 - bits.LeadingZeros64(binary.LittleEndian.Uint64(digits[8:])^'0'*0x0101010101010101)>>3
	if n == 8 {
		n -= bits.LeadingZeros64(binary.LittleEndian.Uint64(digits[:8])^'0'*0x0101010101010101) >> 3
	}
	if f < 0 {
		dst = append(dst, '-')
	}
	if exp < 0 {
		dst = append(dst, '0', '.')
		for i := -1; i > exp; i-- {
			dst = append(dst, '0')
		}
		return append(dst, digits[:n]...), true
	}
	dst = append(dst, digits[:exp+1]...)
	if n > exp+1 {
		dst = append(dst, '.')
		dst = append(dst, digits[exp+1:n]...)
	}
	return dst, true
}

// appendExt writes ext data the way Fluent Bit's msgpack2json does, one
// \xNN per byte, except that the backslash is escaped: Fluent Bit's bare \x
// is not valid JSON.
func appendExt(dst, data []byte) []byte {
	dst = append(dst, '"')
	for _, x := range data {
		dst = append(dst, '\\', '\\', 'x', hexDigits[x>>4], hexDigits[x&0xf])
	}
	return append(dst, '"')
}

// Synthetic record-level entries, the fields Fluent Bit adds in front of
// the body, stored in entry.key as -1-kind.
const (
	entDate = iota
	entInternal
	entLog
)

// entry is a written map entry, kept until the map is closed so that
// duplicate keys can be dropped the way Fluent Bit does: only the last
// occurrence of a string key is written. It is kept small because every
// map entry of every record goes through the stack of them.
type entry struct {
	out  int   // start of the entry's output, after the separating comma
	key  int32 // chunk offset of a str key's bytes, or -1-kind when synthetic
	klen int32
	hash uint32
	str  bool // the key is a msgpack str, the only keys Fluent Bit compares
	dup  bool
}

// keyHash hashes a map key 8 bytes at a time (little-endian words, the
// last one zero-padded), so that the short keys of log records take one
// multiplication.
func keyHash(k []byte) uint32 {
	h := uint64(len(k)) * 0x9e3779b97f4a7c15
	for len(k) >= 8 {
		h = mixWord(h, binary.LittleEndian.Uint64(k))
		k = k[8:]
	}
	if len(k) > 0 {
		var w uint64
		for i, c := range k {
			w |= uint64(c) << (8 * i)
		}
		h = mixWord(h, w)
	}
	return uint32(h >> 32)
}

func mixWord(h, w uint64) uint64 { return (h ^ w) * 0xff51afd7ed558ccd }

// keyFilter is a 256-bit Bloom filter (two bits per key) of the key hashes
// of one map. A map whose keys never hit it has no duplicate keys, which
// spares nearly every map the exact check.
type keyFilter [4]uint64

// add records h and reports whether it might have been seen before.
func (f *keyFilter) add(h uint32) bool {
	i, j := h>>24, h>>16&0xff
	wi, bi := &f[i>>6], uint64(1)<<(i&63)
	wj, bj := &f[j>>6], uint64(1)<<(j&63)
	seen := *wi&bi != 0 && *wj&bj != 0
	*wi |= bi
	*wj |= bj
	return seen
}

var (
	keyInternal        = []byte("__internal__")
	keyLog             = []byte("log")
	keyGroupAttributes = []byte(`"group_attributes":`)
	keyLogMetadata     = []byte(`"log_metadata":`)
)

// entryKey returns the key bytes of a str-keyed entry.
func (e *Encoder) entryKey(en *entry) []byte {
	switch en.key {
	case -1 - entDate:
		return e.dateKey
	case -1 - entInternal:
		return keyInternal
	case -1 - entLog:
		return keyLog
	}
	return e.chunk[en.key : en.key+en.klen]
}

// pushSynth writes a synthetic entry of the record map and records it.
func (e *Encoder) pushSynth(dst, b []byte, kind int, keys *keyFilter, maybeDup *bool) []byte {
	en := entry{out: len(dst), key: int32(-1 - kind), hash: e.synthHash[kind], str: true}
	key := e.entryKey(&en)
	*maybeDup = keys.add(en.hash) || *maybeDup
	if e.track {
		e.ents = append(e.ents, en)
	}
	dst = appendString(dst, key, e.opts.EscapeUnicode)
	dst = append(dst, ':')
	switch kind {
	case entDate:
		return e.appendDate(dst, &e.cur)
	case entLog:
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
	open, base := len(dst), len(e.ents)
	var keys keyFilter
	maybeDup := false
	if e.dateKey != nil {
		dst = e.pushSynth(dst, b, entDate, &keys, &maybeDup)
	}
	if e.hasInternal(b, ev) {
		if len(dst) > open {
			dst = append(dst, ',')
		}
		dst = e.pushSynth(dst, b, entInternal, &keys, &maybeDup)
	}
	var end int
	var err error
	k, n, q, herr := lenHeader(b, ev.bodyPos)
	if herr == nil && k >= kFixMap && k <= kMap32 {
		if err = checkCount(b, ev.bodyPos, q, n, 2); err != nil {
			return dst, ev.bodyPos, err
		}
		dst, end, err = e.appendEntries(dst, b, q, n, 0, len(dst) > open, &keys, &maybeDup)
	} else {
		if len(dst) > open {
			dst = append(dst, ',')
		}
		dst = e.pushSynth(dst, b, entLog, &keys, &maybeDup)
		dst, end, err = e.appendValue(dst, b, ev.bodyPos, 0)
	}
	if err == nil && maybeDup {
		if !e.track {
			return e.retrack(func() ([]byte, int, error) { return e.appendRecord(dst[:open-1], b, ev) })
		}
		if e.markDups(base) {
			dst = e.compact(dst, open, base)
		}
	}
	e.ents = e.ents[:base]
	return append(dst, '}'), end, err
}

// retrack writes a map again with its entries tracked on e.ents, which
// the first pass skips: only maps whose keyFilter saw a possible duplicate
// need them.
func (e *Encoder) retrack(write func() ([]byte, int, error)) ([]byte, int, error) {
	e.track = true
	defer func() { e.track = false }()
	return write()
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
// on e.ents and their key hashes in keys; maybeDup is set when the map may
// have duplicate keys. depth is the map's own nesting depth.
func (e *Encoder) appendEntries(dst, b []byte, p, n, depth int, comma bool, keys *keyFilter, maybeDup *bool) ([]byte, int, error) {
	var err error
	for i := 0; i < n; i++ {
		if comma || i > 0 {
			dst = append(dst, ',')
		}
		// The entry, kept only when tracking (see retrack).
		out, kpos, klen, h, str := len(dst), 0, 0, uint32(0), false
		if p >= len(b) {
			return dst, p, errTruncated(p)
		}
		if c := b[p]; kinds[c] == kFixStr {
			q := p + 1 + int(c&msgpcodeFixedStrMask)
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
		if e.track {
			e.ents = append(e.ents, entry{out: out, key: int32(kpos), klen: int32(klen), hash: h, str: str})
		}
		if dst, p, err = e.appendValue(dst, b, p, depth+1); err != nil {
			return dst, p, err
		}
	}
	return dst, p, nil
}

// msgpcodeFixedStrMask mirrors msgpcode.FixedStrMask as a constant for the
// hot path.
const msgpcodeFixedStrMask = 0x1f

// appendKey writes a map key that is not a msgpack str. Fluent Bit writes
// such keys bare (1:"x"), which is not JSON; here they become strings: a
// bin's bytes, or the JSON text of any other value. Keys inside that text
// are left bare, so that keys of keys are not escaped over and over.
func (e *Encoder) appendKey(dst, b []byte, p, depth int) ([]byte, int, error) {
	if p >= len(b) {
		return dst, p, errTruncated(p)
	}
	if k := kinds[b[p]]; k >= kBin8 && k <= kBin32 {
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
	e.scratch = append(e.scratch[:0], dst[mark:]...)
	return appendString(dst[:mark], e.scratch, e.opts.EscapeUnicode), q, nil
}

// markDups flags every string key of e.ents[base:] that appears again later
// in the same map, and reports whether there was any.
func (e *Encoder) markDups(base int) bool {
	ents := e.ents[base:]
	found := false
	if len(ents) <= 32 {
		for i := 0; i < len(ents)-1; i++ {
			if !ents[i].str {
				continue
			}
			for j := i + 1; j < len(ents); j++ {
				if ents[j].hash == ents[i].hash && ents[j].str && string(e.entryKey(&ents[j])) == string(e.entryKey(&ents[i])) {
					ents[i].dup, found = true, true
					break
				}
			}
		}
		return found
	}
	size := 64
	for size < 2*len(ents) {
		size *= 2
	}
	if cap(e.hash) < size {
		e.hash = make([]int32, size)
	}
	table := e.hash[:size]
	for i := range table {
		table[i] = -1
	}
	mask := uint32(size - 1)
	for i := len(ents) - 1; i >= 0; i-- {
		if !ents[i].str {
			continue
		}
		key := e.entryKey(&ents[i])
		for slot := ents[i].hash & mask; ; slot = (slot + 1) & mask {
			j := table[slot]
			if j < 0 {
				table[slot] = int32(i)
				break
			}
			if string(e.entryKey(&ents[j])) == string(key) {
				ents[i].dup, found = true, true
				break
			}
		}
	}
	return found
}

// compact drops the entries of e.ents[base:] flagged as duplicates from the
// map written at dst[open:], moving the others down.
func (e *Encoder) compact(dst []byte, open, base int) []byte {
	ents := e.ents[base:]
	w := open
	for i, en := range ents {
		end := len(dst)
		if i+1 < len(ents) {
			end = ents[i+1].out - 1 // before the comma
		}
		if en.dup {
			continue
		}
		if w > open {
			dst[w] = ','
			w++
		}
		w += copy(dst[w:], dst[en.out:end])
	}
	return dst[:w]
}

// appendValue writes the msgpack value at p as JSON and returns the
// position after it. depth is the nesting depth of the value.
func (e *Encoder) appendValue(dst, b []byte, p, depth int) ([]byte, int, error) {
	if p >= len(b) {
		return dst, p, errTruncated(p)
	}
	c := b[p]
	switch kinds[c] {
	case kPosFix:
		return appendDecUint(dst, uint64(c)), p + 1, nil
	case kNegFix:
		return appendDec(dst, int64(int8(c))), p + 1, nil
	case kNil:
		return append(dst, "null"...), p + 1, nil
	case kFalse:
		return append(dst, "false"...), p + 1, nil
	case kTrue:
		return append(dst, "true"...), p + 1, nil
	case kU64:
		q, err := need(b, p, 9)
		if err != nil {
			return dst, p, err
		}
		return appendDecUint(dst, binary.BigEndian.Uint64(b[p+1:])), q, nil
	case kU16:
		if p+3 <= len(b) {
			return appendDecUint(dst, uint64(binary.BigEndian.Uint16(b[p+1:]))), p + 3, nil
		}
		return dst, p, errTruncated(p)
	case kU32:
		if p+5 <= len(b) {
			return appendDecUint(dst, uint64(binary.BigEndian.Uint32(b[p+1:]))), p + 5, nil
		}
		return dst, p, errTruncated(p)
	case kU8, kI8, kI16, kI32, kI64:
		v, _, q, err := readInt(b, p)
		if err != nil {
			return dst, p, err
		}
		return appendDec(dst, v), q, nil
	case kF32, kF64:
		f, q, err := readFloat(b, p)
		if err != nil {
			return dst, p, err
		}
		return appendDouble(dst, f), q, nil
	case kFixStr:
		q := p + 1 + int(c&msgpcodeFixedStrMask)
		if q > len(b) {
			return dst, p, errTruncated(p)
		}
		return appendString(dst, b[p+1:q], e.opts.EscapeUnicode), q, nil
	case kStr8:
		if p+2 <= len(b) {
			if q := p + 2 + int(b[p+1]); q <= len(b) {
				return appendString(dst, b[p+2:q], e.opts.EscapeUnicode), q, nil
			}
		}
		_, q, err := readString(b, p)
		return dst, q, err
	case kStr16, kStr32, kBin8, kBin16, kBin32:
		s, q, err := readString(b, p)
		if err != nil {
			return dst, p, err
		}
		return appendString(dst, s, e.opts.EscapeUnicode), q, nil
	case kFixArr, kArr16, kArr32:
		n, q, err := int(c&0x0f), p+1, error(nil)
		if c >= 0xa0 { // not a fixarray
			_, n, q, err = lenHeader(b, p)
		}
		if err == nil && depth >= maxDepth {
			err = errAt(p, "containers nested deeper than %d", maxDepth)
		}
		if err == nil {
			err = checkCount(b, p, q, n, 1)
		}
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
	case kFixMap, kMap16, kMap32:
		n, q, err := int(c&0x0f), p+1, error(nil)
		if c >= 0x90 { // not a fixmap
			_, n, q, err = lenHeader(b, p)
		}
		if err == nil && depth >= maxDepth {
			err = errAt(p, "containers nested deeper than %d", maxDepth)
		}
		if err == nil {
			err = checkCount(b, p, q, n, 2)
		}
		if err != nil {
			return dst, p, err
		}
		dst = append(dst, '{')
		open, base := len(dst), len(e.ents)
		var keys keyFilter
		maybeDup := false
		dst, q, err = e.appendEntries(dst, b, q, n, depth, false, &keys, &maybeDup)
		if err == nil && maybeDup {
			if !e.track {
				return e.retrack(func() ([]byte, int, error) { return e.appendValue(dst[:open-1], b, p, depth) })
			}
			if e.markDups(base) {
				dst = e.compact(dst, open, base)
			}
		}
		e.ents = e.ents[:base]
		return append(dst, '}'), q, err
	case kFixExt1, kFixExt2, kFixExt4, kFixExt8, kFixExt16, kExt8, kExt16, kExt32:
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

// appendDate writes the event time in the configured date format. Fluent
// Bit truncates to microseconds (iso8601, java_sql_timestamp) and
// milliseconds (epoch_ms); so does this.
func (e *Encoder) appendDate(dst []byte, ev *rawEvent) []byte {
	switch e.opts.DateFormat {
	case DateEpoch:
		return appendDec(dst, ev.sec)
	case DateEpochMillis:
		return appendDec(dst, ev.sec*1000+ev.nsec/1e6)
	case DateISO8601, DateJavaSQLTimestamp:
		// Records come many to a second: all but the microseconds is
		// kept from the previous one.
		if !e.secOK || ev.sec != e.sec {
			e.sec, e.secOK = ev.sec, true
			e.secText = e.appendSecond(e.secText[:0], ev.sec)
		}
		us := ev.nsec / 1000
		a, b, c := 2*(us/10000), 2*(us/100%100), 2*(us%100)
		dst = append(dst, e.secText...)
		dst = append(dst, digitPairs[a], digitPairs[a+1], digitPairs[b], digitPairs[b+1], digitPairs[c], digitPairs[c+1])
		if e.opts.DateFormat == DateISO8601 {
			return append(dst, 'Z', '"')
		}
		return append(dst, '"')
	}
	return appendDouble(dst, float64(ev.sec)+float64(ev.nsec)/1e9)
}

// appendSecond writes the start of a quoted date, up to the '.' before the
// microseconds of second sec.
func (e *Encoder) appendSecond(dst []byte, sec int64) []byte {
	days, secs := sec/86400, sec%86400
	if secs < 0 {
		days, secs = days-1, secs+86400
	}
	if !e.dayOK || days != e.day {
		e.day, e.dayOK = days, true
		e.dayText = appendCivilDate(e.dayText[:0], days)
	}
	dst = append(dst, '"')
	dst = append(dst, e.dayText...)
	sep := byte('T')
	if e.opts.DateFormat == DateJavaSQLTimestamp {
		sep = ' '
	}
	h, m, s := secs/3600, secs/60%60, secs%60
	return append(dst, sep, byte('0'+h/10), byte('0'+h%10), ':', byte('0'+m/10), byte('0'+m%10), ':',
		byte('0'+s/10), byte('0'+s%10), '.')
}

// appendCivilDate writes the proleptic Gregorian date of a day count since
// 1970-01-01 as YYYY-MM-DD (years padded to four digits, longer ones kept
// whole as strftime's %Y does).
func appendCivilDate(dst []byte, days int64) []byte {
	// Howard Hinnant's days_from_civil inverse, on eras of 400 years.
	z := days + 719468
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era--
	}
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y := yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d := doy - (153*mp+2)/5 + 1
	m := mp + 3
	if mp >= 10 {
		m = mp - 9
	}
	if m <= 2 {
		y++
	}
	if y < 0 {
		dst = append(dst, '-')
		y = -y
	}
	for w := int64(1000); w > 1 && y < w; w /= 10 {
		dst = append(dst, '0')
	}
	dst = strconv.AppendInt(dst, y, 10)
	return append(dst, '-', byte('0'+m/10), byte('0'+m%10), '-', byte('0'+d/10), byte('0'+d%10))
}
