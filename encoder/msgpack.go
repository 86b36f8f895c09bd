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

// kind classifies a msgpack type byte. The table is built from msgpack/v5's
// msgpcode so the byte values have a single source of truth.
type kind uint8

const (
	kBad kind = iota
	kNil
	kFalse
	kTrue
	kPosFix
	kNegFix
	kU8
	kU16
	kU32
	kU64
	kI8
	kI16
	kI32
	kI64
	kF32
	kF64
	kFixStr
	kStr8
	kStr16
	kStr32
	kBin8
	kBin16
	kBin32
	kFixArr
	kArr16
	kArr32
	kFixMap
	kMap16
	kMap32
	kFixExt1
	kFixExt2
	kFixExt4
	kFixExt8
	kFixExt16
	kExt8
	kExt16
	kExt32
)

var kinds [256]kind

// valueSize is the whole size of a value that its type byte tells alone:
// scalars, fixstr and fixext; 0 for the others.
var valueSize [256]uint8

func init() {
	for c := 0; c <= int(msgpcode.PosFixedNumHigh); c++ {
		kinds[c] = kPosFix
	}
	for c := int(msgpcode.NegFixedNumLow); c <= 0xff; c++ {
		kinds[c] = kNegFix
	}
	for c := msgpcode.FixedStrLow; c <= msgpcode.FixedStrHigh; c++ {
		kinds[c] = kFixStr
	}
	for c := msgpcode.FixedArrayLow; c <= msgpcode.FixedArrayHigh; c++ {
		kinds[c] = kFixArr
	}
	for c := msgpcode.FixedMapLow; c <= msgpcode.FixedMapHigh; c++ {
		kinds[c] = kFixMap
	}
	for c, k := range map[byte]kind{
		msgpcode.Nil: kNil, msgpcode.False: kFalse, msgpcode.True: kTrue,
		msgpcode.Uint8: kU8, msgpcode.Uint16: kU16, msgpcode.Uint32: kU32, msgpcode.Uint64: kU64,
		msgpcode.Int8: kI8, msgpcode.Int16: kI16, msgpcode.Int32: kI32, msgpcode.Int64: kI64,
		msgpcode.Float: kF32, msgpcode.Double: kF64,
		msgpcode.Str8: kStr8, msgpcode.Str16: kStr16, msgpcode.Str32: kStr32,
		msgpcode.Bin8: kBin8, msgpcode.Bin16: kBin16, msgpcode.Bin32: kBin32,
		msgpcode.Array16: kArr16, msgpcode.Array32: kArr32,
		msgpcode.Map16: kMap16, msgpcode.Map32: kMap32,
		msgpcode.FixExt1: kFixExt1, msgpcode.FixExt2: kFixExt2, msgpcode.FixExt4: kFixExt4,
		msgpcode.FixExt8: kFixExt8, msgpcode.FixExt16: kFixExt16,
		msgpcode.Ext8: kExt8, msgpcode.Ext16: kExt16, msgpcode.Ext32: kExt32,
	} {
		kinds[c] = k
	}
	for c, k := range kinds {
		switch k {
		case kNil, kFalse, kTrue, kPosFix, kNegFix:
			valueSize[c] = 1
		case kU8, kI8:
			valueSize[c] = 2
		case kU16, kI16:
			valueSize[c] = 3
		case kU32, kI32, kF32:
			valueSize[c] = 5
		case kU64, kI64, kF64:
			valueSize[c] = 9
		case kFixStr:
			valueSize[c] = 1 + uint8(c)&msgpcode.FixedStrMask
		case kFixExt1, kFixExt2, kFixExt4, kFixExt8, kFixExt16:
			valueSize[c] = 2 + 1<<(k-kFixExt1)
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
// returns the kind, the declared length (bytes, elements or entries) and the
// position right after the header (for ext: of the ext type byte).
func lenHeader(b []byte, p int) (kind, int, int, error) {
	if p >= len(b) {
		return kBad, 0, p, errTruncated(p)
	}
	c := b[p]
	k := kinds[c]
	var n, h int
	switch k {
	case kFixStr:
		return k, int(c & msgpcode.FixedStrMask), p + 1, nil
	case kFixArr:
		return k, int(c & msgpcode.FixedArrayMask), p + 1, nil
	case kFixMap:
		return k, int(c & msgpcode.FixedMapMask), p + 1, nil
	case kFixExt1, kFixExt2, kFixExt4, kFixExt8, kFixExt16:
		return k, 1 << (k - kFixExt1), p + 1, nil
	case kStr8, kBin8, kExt8:
		h = 2
	case kStr16, kBin16, kArr16, kMap16, kExt16:
		h = 3
	case kStr32, kBin32, kArr32, kMap32, kExt32:
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
	switch kinds[c] {
	case kPosFix, kNegFix, kNil, kFalse, kTrue:
		return p + 1, nil
	case kU8, kI8:
		return need(b, p, 2)
	case kU16, kI16:
		return need(b, p, 3)
	case kU32, kI32, kF32:
		return need(b, p, 5)
	case kU64, kI64, kF64:
		return need(b, p, 9)
	case kFixStr:
		n = int(c & msgpcodeFixedStrMask)
		if n > len(b)-p-1 {
			return p, errAt(p, "string declares %d bytes, only %d left", n, len(b)-p-1)
		}
		return p + 1 + n, nil
	case kFixMap:
		n, q = 2*int(c&msgpcode.FixedMapMask), p+1
	case kFixArr:
		n, q = int(c&msgpcode.FixedArrayMask), p+1
	default:
		k, m, r, err := lenHeader(b, p)
		if err != nil {
			return p, err
		}
		switch k {
		case kStr8, kStr16, kStr32, kBin8, kBin16, kBin32:
			if m > len(b)-r {
				return p, errAt(p, "string declares %d bytes, only %d left", m, len(b)-r)
			}
			return r + m, nil
		case kArr16, kArr32:
			n, q = m, r
		case kMap16, kMap32:
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
	if p < len(b) && kinds[b[p]] == kFixStr {
		// Most keys: no header to decode.
		if q := p + 1 + int(b[p]&msgpcodeFixedStrMask); q <= len(b) {
			return b[p+1 : q], q, nil
		}
	}
	k, n, q, err := lenHeader(b, p)
	if err != nil {
		return nil, p, err
	}
	if k < kFixStr || k > kBin32 {
		return nil, p, errAt(p, "expected a string, got type byte 0x%02x", b[p])
	}
	if n > len(b)-q {
		return nil, p, errAt(p, "string declares %d bytes, only %d left", n, len(b)-q)
	}
	return b[q : q+n], q + n, nil
}

// isString reports whether the type byte at p starts a str (not a bin).
func isString(b []byte, p int) bool {
	k := kinds[b[p]]
	return k >= kFixStr && k <= kStr32
}

// isMap reports the entry count of the map at p, if it is one.
func isMap(b []byte, p int) (n int, ok bool) {
	if p < 0 || p >= len(b) {
		return 0, false
	}
	k, n, _, err := lenHeader(b, p)
	return n, err == nil && k >= kFixMap && k <= kMap32
}

// readInt decodes the integer at p; ok is false for a uint64 beyond int64.
func readInt(b []byte, p int) (v int64, ok bool, q int, err error) {
	c := b[p]
	switch kinds[c] {
	case kPosFix:
		return int64(c), true, p + 1, nil
	case kNegFix:
		return int64(int8(c)), true, p + 1, nil
	case kU8:
		if q, err = need(b, p, 2); err == nil {
			v = int64(b[p+1])
		}
	case kI8:
		if q, err = need(b, p, 2); err == nil {
			v = int64(int8(b[p+1]))
		}
	case kU16:
		if q, err = need(b, p, 3); err == nil {
			v = int64(binary.BigEndian.Uint16(b[p+1:]))
		}
	case kI16:
		if q, err = need(b, p, 3); err == nil {
			v = int64(int16(binary.BigEndian.Uint16(b[p+1:])))
		}
	case kU32:
		if q, err = need(b, p, 5); err == nil {
			v = int64(binary.BigEndian.Uint32(b[p+1:]))
		}
	case kI32:
		if q, err = need(b, p, 5); err == nil {
			v = int64(int32(binary.BigEndian.Uint32(b[p+1:])))
		}
	case kU64:
		if q, err = need(b, p, 9); err == nil {
			u := binary.BigEndian.Uint64(b[p+1:])
			return int64(u), u <= math.MaxInt64, q, nil
		}
	case kI64:
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
	if kinds[b[p]] == kF32 {
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
