package encoder

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"strconv"
)

// SampleChunk returns a deterministic chunk of realistic log records, about
// 400 bytes of msgpack each, laid out as Fluent Bit 5 writes them: v2 events
// [[ext0 time, {}], {body}] with map32 headers on metadata and body. Each
// body has an integer "seq" (0..records-1) at top level, nested maps, an
// array, non-ASCII text with characters that need escaping, floats and
// booleans. Benchmarks and end-to-end tests share it.
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
	b := make([]byte, 0, records*420)
	for i := 0; i < records; i++ {
		sec := uint32(1795776000 + i/10)
		nsec := uint32(rng.IntN(1e9))
		b = append(b, 0x92, 0x92, 0xd7, 0x00)
		b = binary.BigEndian.AppendUint32(b, sec)
		b = binary.BigEndian.AppendUint32(b, nsec)
		b = appendMap32(b, 0)

		b = appendMap32(b, 10)
		b = appendStr(b, "seq")
		b = appendInt(b, int64(i))
		b = appendStr(b, "level")
		b = appendStr(b, levels[rng.IntN(len(levels))])
		b = appendStr(b, "host")
		b = appendStr(b, "web-"+strconv.Itoa(rng.IntN(40)))
		b = appendStr(b, "service")
		b = appendStr(b, "checkout")

		msg := make([]byte, 0, 192)
		for len(msg) < 110+rng.IntN(60) {
			if rng.IntN(10) == 0 {
				msg = append(msg, rare[rng.IntN(len(rare))]...)
			} else {
				msg = append(msg, words[rng.IntN(len(words))]...)
			}
			msg = append(msg, ' ')
		}
		b = appendStr(b, "msg")
		b = appendStr(b, string(msg))

		b = appendStr(b, "latency_ms")
		b = appendFloat(b, math.Round(rng.Float64()*1e6)/1e3)
		b = appendStr(b, "ok")
		b = appendBool(b, rng.IntN(10) != 0)

		b = appendStr(b, "http")
		b = append(b, 0x84)
		b = appendStr(b, "method")
		b = appendStr(b, methods[rng.IntN(len(methods))])
		b = appendStr(b, "path")
		b = appendStr(b, "/api/v1/orders/"+strconv.Itoa(rng.IntN(1e6)))
		b = appendStr(b, "status")
		b = appendInt(b, int64([...]int{200, 200, 200, 201, 404, 500}[rng.IntN(6)]))
		b = appendStr(b, "bytes")
		b = appendInt(b, int64(rng.IntN(1<<20)))

		b = appendStr(b, "user")
		b = append(b, 0x83)
		b = appendStr(b, "id")
		b = appendInt(b, int64(rng.IntN(1e7)))
		b = appendStr(b, "name")
		b = appendStr(b, [...]string{"José", "Zoë", "田中", "Ольга", "bob"}[rng.IntN(5)])
		b = appendStr(b, "roles")
		b = append(b, 0x92)
		b = appendStr(b, "buyer")
		b = appendStr(b, [...]string{"admin", "guest", "staff"}[rng.IntN(3)])

		b = appendStr(b, "trace_id")
		var trace [16]byte
		binary.BigEndian.PutUint64(trace[:8], rng.Uint64())
		binary.BigEndian.PutUint64(trace[8:], rng.Uint64())
		hex := make([]byte, 0, 32)
		for _, x := range trace {
			hex = append(hex, hexDigits[x>>4], hexDigits[x&0xf])
		}
		b = appendStr(b, string(hex))
	}
	return b
}

func appendMap32(b []byte, n uint32) []byte {
	return binary.BigEndian.AppendUint32(append(b, 0xdf), n)
}

func appendStr(b []byte, s string) []byte {
	switch n := len(s); {
	case n < 32:
		b = append(b, 0xa0|byte(n))
	case n < 1<<8:
		b = append(b, 0xd9, byte(n))
	case n < 1<<16:
		b = binary.BigEndian.AppendUint16(append(b, 0xda), uint16(n))
	default:
		b = binary.BigEndian.AppendUint32(append(b, 0xdb), uint32(n))
	}
	return append(b, s...)
}

func appendInt(b []byte, v int64) []byte {
	switch {
	case v >= 0 && v < 128:
		return append(b, byte(v))
	case v >= -32 && v < 0:
		return append(b, byte(v))
	case v >= 0 && v < 1<<16:
		return binary.BigEndian.AppendUint16(append(b, 0xcd), uint16(v))
	case v >= 0 && v < 1<<32:
		return binary.BigEndian.AppendUint32(append(b, 0xce), uint32(v))
	}
	return binary.BigEndian.AppendUint64(append(b, 0xd3), uint64(v))
}

func appendFloat(b []byte, f float64) []byte {
	return binary.BigEndian.AppendUint64(append(b, 0xcb), math.Float64bits(f))
}

func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, 0xc3)
	}
	return append(b, 0xc2)
}
