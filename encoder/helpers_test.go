package encoder

import (
	"encoding/binary"

	"github.com/vmihailenco/msgpack/v5"
)

// M is an ordered msgpack map for tests: key, value, key, value...
type M []any

// A is a msgpack array for tests.
type A []any

// raw is msgpack that enc copies as is.
type raw []byte

// enc encodes v with map32 headers, as Fluent Bit writes record maps;
// scalars go through msgpack/v5.
func enc(v any) raw {
	switch v := v.(type) {
	case raw:
		return v
	case M:
		b := appendMap32(nil, uint32(len(v)/2))
		for _, x := range v {
			b = append(b, enc(x)...)
		}
		return b
	case A:
		b := binary.BigEndian.AppendUint32([]byte{0xdd}, uint32(len(v)))
		for _, x := range v {
			b = append(b, enc(x)...)
		}
		return b
	}
	b, err := msgpack.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

func ext0(sec, nsec uint32) raw {
	b := []byte{0xd7, 0x00}
	b = binary.BigEndian.AppendUint32(b, sec)
	return binary.BigEndian.AppendUint32(b, nsec)
}

// ev2 is a Fluent Bit 2.1+ event [[ts, meta], body].
func ev2(ts, meta, body any) raw { return enc(A{A{ts, meta}, body}) }

// ev1 is a legacy event [ts, body].
func ev1(ts, body any) raw { return enc(A{ts, body}) }

func cat(parts ...raw) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

// discard is an EncodeEach emit that keeps nothing.
func discard([]byte) error { return nil }
