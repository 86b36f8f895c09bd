// msgpack.go reads single msgpack values in place: the class of each type
// byte (from msgpack/v5's msgpcode, the one source of the byte values),
// headers, scalars, and skipping a value while validating it.

package encoder

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/vmihailenco/msgpack/v5/msgpcode"
)

// maxDepth bounds container nesting inside an event. msgpack-c, which Fluent
// Bit decodes with, gives up far earlier; the bound keeps the recursive
// writers' stacks small whatever the input.
const maxDepth = 64

// typeClass is what a msgpack type byte says of its value. The table is built from msgpack/v5's
// msgpcode so the byte values have a single source of truth.
type typeClass uint8

const (
	tBad typeClass = iota
	tNil
	tFalse
	tTrue
	tPosFix
	tNegFix
	tU8
	tU16
	tU32
	tU64
	tI8
	tI16
	tI32
	tI64
	tF32
	tF64
	tFixStr
	tStr8
	tStr16
	tStr32
	tBin8
	tBin16
	tBin32
	tFixArr
	tArr16
	tArr32
	tFixMap
	tMap16
	tMap32
	tFixExt1
	tFixExt2
	tFixExt4
	tFixExt8
	tFixExt16
	tExt8
	tExt16
	tExt32
)

// classOf is the class of every type byte.
var classOf [256]typeClass

// valueSize is the whole size of a value that its type byte tells alone:
// scalars, fixstr and fixext; 0 for the others.
var valueSize [256]uint8

func init() {
	for c := 0; c <= int(msgpcode.PosFixedNumHigh); c++ {
		classOf[c] = tPosFix
	}
	for c := int(msgpcode.NegFixedNumLow); c <= 0xff; c++ {
		classOf[c] = tNegFix
	}
	for c := msgpcode.FixedStrLow; c <= msgpcode.FixedStrHigh; c++ {
		classOf[c] = tFixStr
	}
	for c := msgpcode.FixedArrayLow; c <= msgpcode.FixedArrayHigh; c++ {
		classOf[c] = tFixArr
	}
	for c := msgpcode.FixedMapLow; c <= msgpcode.FixedMapHigh; c++ {
		classOf[c] = tFixMap
	}
	for c, k := range map[byte]typeClass{
		msgpcode.Nil: tNil, msgpcode.False: tFalse, msgpcode.True: tTrue,
		msgpcode.Uint8: tU8, msgpcode.Uint16: tU16, msgpcode.Uint32: tU32, msgpcode.Uint64: tU64,
		msgpcode.Int8: tI8, msgpcode.Int16: tI16, msgpcode.Int32: tI32, msgpcode.Int64: tI64,
		msgpcode.Float: tF32, msgpcode.Double: tF64,
		msgpcode.Str8: tStr8, msgpcode.Str16: tStr16, msgpcode.Str32: tStr32,
		msgpcode.Bin8: tBin8, msgpcode.Bin16: tBin16, msgpcode.Bin32: tBin32,
		msgpcode.Array16: tArr16, msgpcode.Array32: tArr32,
		msgpcode.Map16: tMap16, msgpcode.Map32: tMap32,
		msgpcode.FixExt1: tFixExt1, msgpcode.FixExt2: tFixExt2, msgpcode.FixExt4: tFixExt4,
		msgpcode.FixExt8: tFixExt8, msgpcode.FixExt16: tFixExt16,
		msgpcode.Ext8: tExt8, msgpcode.Ext16: tExt16, msgpcode.Ext32: tExt32,
	} {
		classOf[c] = k
	}
	for c, k := range classOf {
		switch k {
		case tNil, tFalse, tTrue, tPosFix, tNegFix:
			valueSize[c] = 1
		case tU8, tI8:
			valueSize[c] = 2
		case tU16, tI16:
			valueSize[c] = 3
		case tU32, tI32, tF32:
			valueSize[c] = 5
		case tU64, tI64, tF64:
			valueSize[c] = 9
		case tFixStr:
			valueSize[c] = 1 + uint8(c)&msgpcode.FixedStrMask
		case tFixExt1, tFixExt2, tFixExt4, tFixExt8, tFixExt16:
			valueSize[c] = 2 + 1<<(k-tFixExt1)
		}
	}
}

// syntaxError is a decoding failure before it is tied to a record index.
type syntaxError struct {
	off int
	err error
}

func (e *syntaxError) Error() string { return e.err.Error() }

func errTruncated(off int) error { return &syntaxError{off, ErrTruncated} }

func errAt(off int, format string, args ...any) error {
	return &syntaxError{off, fmt.Errorf(format, args...)}
}

// need returns p+n, or an error when fewer than n bytes are left at p.
func need(b []byte, p, n int) (int, error) {
	if n > len(b)-p {
		return p, errTruncated(p)
	}
	return p + n, nil
}

// lenHeader decodes the header of a str, bin, array, map or ext at p. It
// returns its class, the declared length (bytes, elements or entries) and the
// position right after the header (for ext: of the ext type byte).
func lenHeader(b []byte, p int) (typeClass, int, int, error) {
	if p >= len(b) {
		return tBad, 0, p, errTruncated(p)
	}
	c := b[p]
	k := classOf[c]
	var n, h int
	switch k {
	case tFixStr:
		return k, int(c & msgpcode.FixedStrMask), p + 1, nil
	case tFixArr:
		return k, int(c & msgpcode.FixedArrayMask), p + 1, nil
	case tFixMap:
		return k, int(c & msgpcode.FixedMapMask), p + 1, nil
	case tFixExt1, tFixExt2, tFixExt4, tFixExt8, tFixExt16:
		return k, 1 << (k - tFixExt1), p + 1, nil
	case tStr8, tBin8, tExt8:
		h = 2
	case tStr16, tBin16, tArr16, tMap16, tExt16:
		h = 3
	case tStr32, tBin32, tArr32, tMap32, tExt32:
		h = 5
	default:
		return k, 0, p, errAt(p, "unexpected type byte 0x%02x", c)
	}
	if h > len(b)-p {
		return k, 0, p, errTruncated(p)
	}
	switch h {
	case 2:
		n = int(b[p+1])
	case 3:
		n = int(binary.BigEndian.Uint16(b[p+1:]))
	default:
		n = int(binary.BigEndian.Uint32(b[p+1:]))
	}
	return k, n, p + h, nil
}

// containerHeader reads the header of the array (perItem 1) or map
// (perItem 2) at p, a container at nesting depth depth, and checks that
// its count fits in the bytes left. It returns the count and the position
// of the first element.
func containerHeader(b []byte, p, depth, perItem int) (int, int, error) {
	n, q := int(b[p]&msgpcode.FixedMapMask), p+1 // fixmap and fixarray alike
	if k := classOf[b[p]]; k != tFixArr && k != tFixMap {
		var err error
		if _, n, q, err = lenHeader(b, p); err != nil {
			return 0, p, err
		}
	}
	if depth >= maxDepth {
		return 0, p, errAt(p, "containers nested deeper than %d", maxDepth)
	}
	return n, q, checkCount(b, p, q, n, perItem)
}

// checkCount rejects a container whose declared count cannot fit in the
// bytes left, before anything loops over it.
func checkCount(b []byte, p, q, n, perItem int) error {
	if n > (len(b)-q)/perItem {
		return errAt(p, "container declares %d elements, only %d bytes left", n, len(b)-q)
	}
	return nil
}

// skipValue validates the value at p and returns the position after it.
func skipValue(b []byte, p, depth int) (int, error) {
	if p >= len(b) {
		return p, errTruncated(p)
	}
	c := b[p]
	var n, q int
	switch classOf[c] {
	case tPosFix, tNegFix, tNil, tFalse, tTrue:
		return p + 1, nil
	case tU8, tI8:
		return need(b, p, 2)
	case tU16, tI16:
		return need(b, p, 3)
	case tU32, tI32, tF32:
		return need(b, p, 5)
	case tU64, tI64, tF64:
		return need(b, p, 9)
	case tFixStr:
		n = int(c & msgpcode.FixedStrMask)
		if n > len(b)-p-1 {
			return p, errAt(p, "string declares %d bytes, only %d left", n, len(b)-p-1)
		}
		return p + 1 + n, nil
	case tFixMap:
		n, q = 2*int(c&msgpcode.FixedMapMask), p+1
	case tFixArr:
		n, q = int(c&msgpcode.FixedArrayMask), p+1
	default:
		k, m, r, err := lenHeader(b, p)
		if err != nil {
			return p, err
		}
		switch k {
		case tStr8, tStr16, tStr32, tBin8, tBin16, tBin32:
			if m > len(b)-r {
				return p, errAt(p, "string declares %d bytes, only %d left", m, len(b)-r)
			}
			return r + m, nil
		case tArr16, tArr32:
			n, q = m, r
		case tMap16, tMap32:
			n, q = 2*m, r
		default: // ext: type byte then m data bytes
			if m+1 > len(b)-r {
				return p, errAt(p, "ext declares %d bytes, only %d left", m, len(b)-r-1)
			}
			return r + 1 + m, nil
		}
	}
	if depth >= maxDepth {
		return p, errAt(p, "containers nested deeper than %d", maxDepth)
	}
	if err := checkCount(b, p, q, n, 1); err != nil {
		return p, err
	}
	var err error
	for i := 0; i < n; i++ {
		// Most elements are scalars or short strings: stepped over here,
		// without a call. The rest, and any error, are left to skipValue.
		if q < len(b) {
			c := b[q]
			if m := int(valueSize[c]); m != 0 && m <= len(b)-q {
				q += m
				continue
			}
			if c == msgpcode.Str8 && q+2 <= len(b) {
				if m := 2 + int(b[q+1]); m <= len(b)-q {
					q += m
					continue
				}
			}
		}
		if q, err = skipValue(b, q, depth+1); err != nil {
			return p, err
		}
	}
	return q, nil
}

// readString returns the bytes of the str or bin at p and the position after it.
func readString(b []byte, p int) ([]byte, int, error) {
	if p < len(b) && classOf[b[p]] == tFixStr {
		// Most keys: no header to decode.
		if q := p + 1 + int(b[p]&msgpcode.FixedStrMask); q <= len(b) {
			return b[p+1 : q], q, nil
		}
	}
	k, n, q, err := lenHeader(b, p)
	if err != nil {
		return nil, p, err
	}
	if k < tFixStr || k > tBin32 {
		return nil, p, errAt(p, "expected a string, got type byte 0x%02x", b[p])
	}
	if n > len(b)-q {
		return nil, p, errAt(p, "string declares %d bytes, only %d left", n, len(b)-q)
	}
	return b[q : q+n], q + n, nil
}

// isString reports whether the type byte at p starts a str (not a bin).
func isString(b []byte, p int) bool {
	k := classOf[b[p]]
	return k >= tFixStr && k <= tStr32
}

// isMap reports the entry count of the map at p, if it is one.
func isMap(b []byte, p int) (n int, ok bool) {
	if p < 0 || p >= len(b) {
		return 0, false
	}
	k, n, _, err := lenHeader(b, p)
	return n, err == nil && k >= tFixMap && k <= tMap32
}

// readInt decodes the integer at p; ok is false for a uint64 beyond int64.
func readInt(b []byte, p int) (v int64, ok bool, q int, err error) {
	c := b[p]
	switch classOf[c] {
	case tPosFix:
		return int64(c), true, p + 1, nil
	case tNegFix:
		return int64(int8(c)), true, p + 1, nil
	case tU8:
		if q, err = need(b, p, 2); err == nil {
			v = int64(b[p+1])
		}
	case tI8:
		if q, err = need(b, p, 2); err == nil {
			v = int64(int8(b[p+1]))
		}
	case tU16:
		if q, err = need(b, p, 3); err == nil {
			v = int64(binary.BigEndian.Uint16(b[p+1:]))
		}
	case tI16:
		if q, err = need(b, p, 3); err == nil {
			v = int64(int16(binary.BigEndian.Uint16(b[p+1:])))
		}
	case tU32:
		if q, err = need(b, p, 5); err == nil {
			v = int64(binary.BigEndian.Uint32(b[p+1:]))
		}
	case tI32:
		if q, err = need(b, p, 5); err == nil {
			v = int64(int32(binary.BigEndian.Uint32(b[p+1:])))
		}
	case tU64:
		if q, err = need(b, p, 9); err == nil {
			u := binary.BigEndian.Uint64(b[p+1:])
			return int64(u), u <= math.MaxInt64, q, nil
		}
	case tI64:
		if q, err = need(b, p, 9); err == nil {
			v = int64(binary.BigEndian.Uint64(b[p+1:]))
		}
	default:
		return 0, false, p, errAt(p, "expected an integer, got type byte 0x%02x", c)
	}
	return v, err == nil, q, err
}

// readFloat decodes the float32 or float64 at p.
func readFloat(b []byte, p int) (float64, int, error) {
	if classOf[b[p]] == tF32 {
		q, err := need(b, p, 5)
		if err != nil {
			return 0, p, err
		}
		return float64(math.Float32frombits(binary.BigEndian.Uint32(b[p+1:]))), q, nil
	}
	q, err := need(b, p, 9)
	if err != nil {
		return 0, p, err
	}
	return math.Float64frombits(binary.BigEndian.Uint64(b[p+1:])), q, nil
}
