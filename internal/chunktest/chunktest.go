// Package chunktest builds Fluent Bit chunks for tests, benchmarks and the
// demo: msgpack values with the map32/array32 headers Fluent Bit writes (M,
// A, Enc), events (Event, LegacyEvent, Time), realistic records
// (SampleChunk), and the test host's -I framing (Frame).
//
// It must not import the encoder: the encoder's own tests use it.
package chunktest

import (
	"encoding/binary"

	"github.com/vmihailenco/msgpack/v5"
	"github.com/vmihailenco/msgpack/v5/msgpcode"
)

// M is an ordered msgpack map: key, value, key, value...
type M []any

// A is a msgpack array.
type A []any

// Raw is msgpack that Enc copies as is.
type Raw []byte

// EncodeMsgpack lets msgpack/v5 encode an M nested in a plain Go value.
func (m M) EncodeMsgpack(e *msgpack.Encoder) error { return e.Encode(msgpack.RawMessage(Enc(m))) }

// EncodeMsgpack lets msgpack/v5 encode an A nested in a plain Go value.
func (a A) EncodeMsgpack(e *msgpack.Encoder) error { return e.Encode(msgpack.RawMessage(Enc(a))) }

// EncodeMsgpack lets msgpack/v5 copy a Raw nested in a plain Go value.
func (r Raw) EncodeMsgpack(e *msgpack.Encoder) error { return e.Encode(msgpack.RawMessage(r)) }

// Enc encodes v: M and A with map32 and array32 headers, as Fluent Bit
// writes record maps; anything else through msgpack/v5, with the smallest
// headers (a []any is the fixarray Fluent Bit writes around an event).
func Enc(v any) Raw {
	switch v := v.(type) {
	case Raw:
		return v
	case M:
		b := appendMap32(nil, uint32(len(v)/2))
		for _, x := range v {
			b = append(b, Enc(x)...)
		}
		return b
	case A:
		b := binary.BigEndian.AppendUint32([]byte{msgpcode.Array32}, uint32(len(v)))
		for _, x := range v {
			b = append(b, Enc(x)...)
		}
		return b
	}
	b, err := msgpack.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// Time is Fluent Bit's EventTime: msgpack extension 0 holding seconds and
// nanoseconds.
func Time(sec, nsec uint32) Raw {
	b := []byte{msgpcode.FixExt8, 0}
	b = binary.BigEndian.AppendUint32(b, sec)
	return binary.BigEndian.AppendUint32(b, nsec)
}

// Int32 is v encoded as a msgpack int32 whatever its size, as some
// encoders write integers.
func Int32(v int32) Raw {
	return binary.BigEndian.AppendUint32([]byte{msgpcode.Int32}, uint32(v))
}

// Event is a Fluent Bit 2.1+ event [[time, metadata], body].
func Event(ts, meta, body any) Raw { return Enc(A{A{ts, meta}, body}) }

// LegacyEvent is an event as Fluent Bit before 2.1 writes it: [time, body].
func LegacyEvent(ts, body any) Raw { return Enc(A{ts, body}) }

// Cat joins encoded parts into one chunk.
func Cat(parts ...Raw) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

// Frame lays chunks out as the test host's -I option reads them: each
// chunk after its length, 4 bytes big-endian.
func Frame(chunks ...[]byte) []byte {
	n := 0
	for _, c := range chunks {
		n += 4 + len(c)
	}
	b := make([]byte, 0, n)
	for _, c := range chunks {
		b = binary.BigEndian.AppendUint32(b, uint32(len(c)))
		b = append(b, c...)
	}
	return b
}

func appendMap32(b []byte, n uint32) []byte {
	return binary.BigEndian.AppendUint32(append(b, msgpcode.Map32), n)
}
