package encoder

import "testing"

// BenchmarkEncode reports throughput in bytes of msgpack input per second.
func BenchmarkEncode(b *testing.B) {
	chunks := []struct {
		name  string
		chunk []byte
	}{
		{"reference", readData(b, "formats/input.msgpack")},
		{"2MB", SampleChunk(5200, 1)},
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
