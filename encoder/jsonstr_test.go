package encoder

import (
	"math/rand/v2"
	"testing"
)

func TestScanPlain(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []byte("abc \"\\\x00\x1f\x7e\x7f\x80\xff~ ")
	for n := 0; n < 20000; n++ {
		s := make([]byte, rng.IntN(40))
		for i := range s {
			s[i] = 'a'
			if rng.IntN(8) == 0 {
				s[i] = alphabet[rng.IntN(len(alphabet))]
			}
		}
		from := rng.IntN(len(s) + 1)
		want := from
		for want < len(s) && plain[s[want]] {
			want++
		}
		if got := scanPlain(s, from); got != want {
			t.Fatalf("scanPlain(%q, %d) = %d, want %d", s, from, got, want)
		}
	}
}

// TestAppendStringCapacity checks that what follows a string within its
// capacity, which appendString reads, never changes its output.
func TestAppendStringCapacity(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	alphabet := []byte("ab \"\\\x00\x1f\x7e\x7f\x80\xc3\xa9\xff")
	for range 20000 {
		buf := make([]byte, 16)
		for i := range buf {
			buf[i] = alphabet[rng.IntN(len(alphabet))]
		}
		s := buf[:rng.IntN(9)]
		exact := append([]byte(nil), s...)
		for _, esc := range []bool{false, true} {
			if got, want := appendString(nil, s, esc), appendString(nil, exact[:len(exact):len(exact)], esc); string(got) != string(want) {
				t.Fatalf("appendString(%q) = %s with %q after it, want %s", s, got, buf[len(s):], want)
			}
		}
	}
}
