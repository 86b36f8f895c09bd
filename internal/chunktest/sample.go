package chunktest

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"math"
	"math/rand/v2"
	"strconv"

	"github.com/vmihailenco/msgpack/v5"
	"github.com/vmihailenco/msgpack/v5/msgpcode"
)

// SampleChunk returns a deterministic chunk of realistic log records, about
// 400 bytes of msgpack each, laid out as Fluent Bit 5 writes them: v2 events
// [[ext0 time, {}], {body}] with map32 headers on metadata and body. Each
// body has an integer "seq" (0..records-1) at top level, nested maps, an
// array, non-ASCII text with characters that need escaping, floats and
// booleans. Benchmarks and end-to-end tests share it; bench/RESULTS.md was
// measured on it, so its bytes must not change.
func SampleChunk(records int, seed int64) []byte {
	rng := rand.New(rand.NewPCG(uint64(seed), 0x5eed))
	levels := [...]string{"debug", "info", "info", "info", "warn", "error"}
	methods := [...]string{"GET", "GET", "POST", "PUT", "DELETE"}
	words := [...]string{
		"request", "served", "from", "cache", "miss", "for", "user", "checkout", "order",
		"payment", "latency", "upstream", "GET", "/api/v1/orders", "status=200", "in", "ms",
		"retrying", "connection", "to", "db-primary:5432", "took", "12.5ms", "ok",
	}
	// Log text is mostly ASCII, with some accents, CJK, emoji and
	// characters JSON must escape.
	rare := [...]string{"é", "ü", "漢字", "😀", `"quoted"`, `back\slash`, "\t", "\n"}
	var buf bytes.Buffer
	buf.Grow(records * 420)
	w := sampleWriter{&buf, msgpack.NewEncoder(&buf)}
	for i := 0; i < records; i++ {
		sec := uint32(1795776000 + i/10)
		nsec := uint32(rng.IntN(1e9))
		w.EncodeArrayLen(2)
		w.EncodeArrayLen(2)
		buf.Write(Time(sec, nsec))
		w.map32(0)

		w.map32(10)
		w.str("seq")
		w.int(int64(i))
		w.str("level")
		w.str(levels[rng.IntN(len(levels))])
		w.str("host")
		w.str("web-" + strconv.Itoa(rng.IntN(40)))
		w.str("service")
		w.str("checkout")

		msg := make([]byte, 0, 192)
		for len(msg) < 110+rng.IntN(60) {
			if rng.IntN(10) == 0 {
				msg = append(msg, rare[rng.IntN(len(rare))]...)
			} else {
				msg = append(msg, words[rng.IntN(len(words))]...)
			}
			msg = append(msg, ' ')
		}
		w.str("msg")
		w.str(string(msg))

		w.str("latency_ms")
		w.EncodeFloat64(math.Round(rng.Float64()*1e6) / 1e3)
		w.str("ok")
		w.EncodeBool(rng.IntN(10) != 0)

		w.str("http")
		w.EncodeMapLen(4)
		w.str("method")
		w.str(methods[rng.IntN(len(methods))])
		w.str("path")
		w.str("/api/v1/orders/" + strconv.Itoa(rng.IntN(1e6)))
		w.str("status")
		w.int(int64([...]int{200, 200, 200, 201, 404, 500}[rng.IntN(6)]))
		w.str("bytes")
		w.int(int64(rng.IntN(1 << 20)))

		w.str("user")
		w.EncodeMapLen(3)
		w.str("id")
		w.int(int64(rng.IntN(1e7)))
		w.str("name")
		w.str([...]string{"José", "Zoë", "田中", "Ольга", "bob"}[rng.IntN(5)])
		w.str("roles")
		w.EncodeArrayLen(2)
		w.str("buyer")
		w.str([...]string{"admin", "guest", "staff"}[rng.IntN(3)])

		w.str("trace_id")
		var trace [16]byte
		binary.BigEndian.PutUint64(trace[:8], rng.Uint64())
		binary.BigEndian.PutUint64(trace[8:], rng.Uint64())
		w.str(hex.EncodeToString(trace[:]))
	}
	return buf.Bytes()
}

// sampleWriter writes msgpack into a buffer; writes to a bytes.Buffer
// cannot fail, so it drops the errors.
type sampleWriter struct {
	buf *bytes.Buffer
	*msgpack.Encoder
}

func (w sampleWriter) map32(n uint32) { w.buf.Write(appendMap32(nil, n)) }

func (w sampleWriter) str(s string) { w.EncodeString(s) }

// int writes v in the shortest of fixint, uint16, uint32 and int64: the
// sizes the sample has always used (never uint8 or int8).
func (w sampleWriter) int(v int64) {
	switch {
	case v >= int64(int8(msgpcode.NegFixedNumLow)) && v <= int64(msgpcode.PosFixedNumHigh):
		w.EncodeInt(v)
	case v >= 0 && v <= math.MaxUint16:
		w.EncodeUint16(uint16(v))
	case v >= 0 && v <= math.MaxUint32:
		w.EncodeUint32(uint32(v))
	default:
		w.EncodeInt64(v)
	}
}
