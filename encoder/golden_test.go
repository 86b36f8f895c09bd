package encoder

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/out-websocket/out_websocket/internal/reference"
)

// fbData is Fluent Bit 5.1.1's reference output.
var fbData = reference.Dir

func readData(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fbData, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestGoldenJSON checks every json, json_stream and json_lines file of the
// reference data byte for byte.
func TestGoldenJSON(t *testing.T) {
	chunk := readData(t, "formats/input.msgpack")
	formats := map[string]Format{"json": JSON, "json_stream": JSONStream, "json_lines": JSONLines}
	keys := map[string]string{"date": "date", "timestamp": "@timestamp"}
	files, err := filepath.Glob(filepath.Join(fbData, "formats", "json*"))
	if err != nil || len(files) != 30 {
		t.Fatalf("want 30 reference files, got %d (%v)", len(files), err)
	}
	for _, path := range files {
		name := filepath.Base(path)
		t.Run(name, func(t *testing.T) {
			parts := bytes.Split([]byte(name), []byte("."))
			df, err := ParseDateFormat(string(parts[1]))
			if err != nil {
				t.Fatal(err)
			}
			enc, err := New(Options{Format: formats[string(parts[0])], DateKey: keys[string(parts[2])], DateFormat: df, EscapeUnicode: true})
			if err != nil {
				t.Fatal(err)
			}
			res, err := enc.Encode(chunk)
			if err != nil {
				t.Fatal(err)
			}
			want := readData(t, "formats/"+name)
			if len(res.Messages) != 1 {
				t.Fatalf("got %d messages", len(res.Messages))
			}
			if got := res.Messages[0]; !bytes.Equal(got, want) {
				t.Errorf("output differs at byte %d\n got: %q\nwant: %q", diffAt(got, want), around(got, diffAt(got, want)), around(want, diffAt(got, want)))
			}
			if res.Records != 60 {
				t.Errorf("Records = %d, want 60", res.Records)
			}
		})
	}
}

func diffAt(a, b []byte) int {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	return i
}

func around(b []byte, i int) []byte {
	lo, hi := max(i-60, 0), min(i+60, len(b))
	return b[lo:hi]
}
