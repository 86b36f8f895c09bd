package encoder

import (
	"hash/maphash"
	"strconv"
	"testing"
	"time"

	"github.com/out-websocket/out_websocket/internal/chunktest"
)

// BenchmarkEncode reports throughput in bytes of msgpack input per second.
func BenchmarkEncode(b *testing.B) {
	chunks := []struct {
		name  string
		chunk []byte
	}{
		{"reference", readData(b, "formats/input.msgpack")},
		{"2MB", chunktest.SampleChunk(5200, 1)},
	}
	for _, c := range chunks {
		for _, f := range allFormats {
			b.Run(f.String()+"/"+c.name, func(b *testing.B) {
				enc := mustNew(b, Options{Format: f, DateKey: "date", DateFormat: DateISO8601, EscapeUnicode: true, GELF: GELFKeys{ShortMessage: "msg"}})
				b.SetBytes(int64(len(c.chunk)))
				b.ReportAllocs()
				for b.Loop() {
					if _, err := enc.EncodeEach(c.chunk, discard); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkAppendDouble: appendG16 against strconv's %.16g for the doubles
// log records carry (latencies, ratios).
func BenchmarkAppendDouble(b *testing.B) {
	vals := []float64{367.969, 0.001234, 12.5, 98765.4321, 1795776000.259341}
	buf := make([]byte, 0, 64)
	b.Run("appendG16", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			buf, _ = appendG16(buf[:0], vals[i%len(vals)])
		}
	})
	b.Run("strconv", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			buf = strconv.AppendFloat(buf[:0], vals[i%len(vals)], 'g', 16, 64)
		}
	})
}

// BenchmarkKeyHash: keyHash against hash/maphash for the short keys of log
// records. keyHash is also what appendEntries computes inline from the one
// word it loads for a short key.
func BenchmarkKeyHash(b *testing.B) {
	keys := [][]byte{[]byte("seq"), []byte("level"), []byte("service"), []byte("latency_ms"), []byte("trace_id")}
	var sink uint64
	b.Run("keyHash", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			sink += uint64(keyHash(keys[i%len(keys)]))
		}
	})
	b.Run("maphash", func(b *testing.B) {
		seed := maphash.MakeSeed()
		for i := 0; b.Loop(); i++ {
			sink += maphash.Bytes(seed, keys[i%len(keys)])
		}
	})
	_ = sink
}

// BenchmarkAppendTime: dateCache against package time's formatting of every
// record's iso8601 date; records come many to a second.
func BenchmarkAppendTime(b *testing.B) {
	c := dateCache{format: DateISO8601}
	buf := make([]byte, 0, 64)
	b.Run("dateCache", func(b *testing.B) {
		for i := int64(0); b.Loop(); i++ {
			buf = c.appendTime(buf[:0], 1795776000+i/1000, i%1000*1000)
		}
	})
	b.Run("time", func(b *testing.B) {
		for i := int64(0); b.Loop(); i++ {
			buf = append(time.Unix(1795776000+i/1000, i%1000*1000).UTC().AppendFormat(append(buf[:0], '"'), "2006-01-02T15:04:05.000000Z"), '"')
		}
	})
}
