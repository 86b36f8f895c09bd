package encoder

import (
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
)

// TestAppendDouble checks appendDouble, and so appendG16, against strconv
// on random bit patterns and on the short decimals log records carry.
func TestAppendDouble(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	want := func(f float64) string {
		switch {
		case math.IsNaN(f) || math.IsInf(f, 0):
			return "null"
		case f == math.Trunc(f) && f >= -0x1p63 && f < 0x1p63:
			return strconv.FormatFloat(f, 'f', 1, 64)
		}
		return strconv.FormatFloat(f, 'g', 16, 64)
	}
	check := func(f float64) {
		if got := string(appendDouble(nil, f)); got != want(f) {
			t.Fatalf("appendDouble(%b) = %s, want %s", f, got, want(f))
		}
	}
	for _, f := range []float64{0, math.Copysign(0, -1), 1e-4, 1e16, 1e15 + 0.5, 1234567890123456.5, 9999999999999999, 0.1, 0.3, 2.5, -7.25, 1e-5, math.MaxFloat64, math.SmallestNonzeroFloat64} {
		check(f)
		check(-f)
	}
	// Around powers of ten the decimal exponent guess and the rounding
	// carry are both tested.
	for i := -6; i <= 17; i++ {
		p := math.Pow(10, float64(i))
		for f, j := p, 0; j < 40; j++ {
			check(f)
			f = math.Nextafter(f, 0)
		}
		check(math.Nextafter(p, math.Inf(1)))
	}
	for range 300000 {
		check(math.Float64frombits(rng.Uint64()))
		check(math.Ldexp(rng.Float64(), rng.IntN(120)-60))
		check(float64(rng.Int64N(1e12)) / float64(pow10[rng.IntN(16)]))
		check(math.Round(rng.Float64()*1e6) / 1e3)
	}
}
