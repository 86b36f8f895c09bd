package encoder

import (
	"testing"

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
					if _, err := enc.Encode(c.chunk); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
