// jsonstr.go writes JSON strings: escaping as Fluent Bit does, invalid
// UTF-8 made valid, and the word-at-a-time scan for bytes to escape.

package encoder

import (
	"encoding/binary"
	"math/bits"
	"unicode/utf16"
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

// appendString appends s as a JSON string, escaped as Fluent Bit does
// (strconv quotes the Go way, encoding/json the HTML-safe way). Invalid
// UTF-8 becomes U+FFFD so the output is always valid UTF-8, whatever the
// input.
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
		r, size := utf8.DecodeRune(s[i:])
		if size == 1 { // invalid: s[i] is not ASCII
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
		if r1, r2 := utf16.EncodeRune(r); r1 != utf8.RuneError {
			dst = appendU4(dst, r1)
			r = r2
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

func appendU4(dst []byte, r rune) []byte {
	return append(dst, '\\', 'u', hexDigits[r>>12&0xf], hexDigits[r>>8&0xf], hexDigits[r>>4&0xf], hexDigits[r&0xf])
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
