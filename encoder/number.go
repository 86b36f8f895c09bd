// number.go writes JSON numbers: integers, and doubles as Fluent Bit's
// %.16g does, exactly and without strconv's general path.

package encoder

import (
	"encoding/binary"
	"math"
	"math/bits"
	"strconv"
)

// digitPairs holds the two digits of 0 through 99.
var digitPairs [200]byte

func init() {
	for i := range 100 {
		digitPairs[2*i], digitPairs[2*i+1] = byte('0'+i/10), byte('0'+i%10)
	}
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
		return append(strconv.AppendInt(dst, int64(f), 10), '.', '0')
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
// round(|f|*10^k) = round(m*10^k / 2^s) are exact in 128-bit integers, in
// half the time of strconv's general path (BenchmarkAppendDouble).
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
