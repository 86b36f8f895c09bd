package encoder

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"testing"
	"unicode/utf8"

	"github.com/out-websocket/out_websocket/internal/chunktest"
)

// FuzzEncode decodes and encodes arbitrary chunks in every format. It must
// never panic nor modify its input, errors must be *DecodeError, and text
// output must be valid UTF-8 and valid JSON with one object per record.
func FuzzEncode(f *testing.F) {
	f.Add(readData(f, "formats/input.msgpack"), uint8(0), uint16(0))
	f.Add(readData(f, "gelf/input.msgpack"), uint8(0x13), uint16(900))
	sample := chunktest.SampleChunk(4, 3)
	for _, cut := range []int{1, 17, 100, len(sample) / 2, len(sample) - 1} {
		f.Add(sample[:cut], uint8(cut), uint16(0))
	}
	start := chunktest.Event(chunktest.Raw{0xd7, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0}, chunktest.M{"m", 1}, chunktest.M{"g", chunktest.A{1.5, nil}})
	for _, chunk := range [][]byte{
		chunktest.Cat(start, chunktest.Event(chunktest.Time(1, 2), chunktest.M{"k", "v"}, chunktest.M{"short_message", "s", "a", chunktest.M{"b", true}})),
		chunktest.Cat(chunktest.LegacyEvent(1.5, "not a map"), chunktest.LegacyEvent(-7, chunktest.M{"log", chunktest.Raw{0xc4, 2, 0xff, 'x'}, "level", "WARN"})),
		chunktest.Event(chunktest.Time(3, 4), chunktest.M{}, chunktest.Raw{0x83, 0x01, 0xa1, 'x', 0xa1, 'k', 0xd5, 9, 1, 2, 0xa1, 'k', 0xca, 0x3f, 0xc0, 0, 0}),
		chunktest.Event(chunktest.Time(5, 6), chunktest.M{}, chunktest.M{"message", "a\xff\xed\xa0\x80b", "timestamp", "x", "id", 1}),
	} {
		f.Add(chunk, uint8(0xff), uint16(40))
	}
	f.Fuzz(func(t *testing.T, chunk []byte, flags uint8, max uint16) {
		orig := bytes.Clone(chunk)
		for _, format := range allFormats {
			opts := Options{
				Format:         format,
				DateFormat:     DateFormat(flags % 5),
				EscapeUnicode:  flags&0x08 != 0,
				MaxMessageSize: int(max),
				GELF:           GELFKeys{ShortMessage: "msg"},
			}
			if flags&0x10 != 0 {
				opts.DateKey = "date"
			}
			enc, err := New(opts)
			if err != nil {
				t.Fatal(err)
			}
			res, err := enc.Encode(chunk)
			if !bytes.Equal(orig, chunk) {
				t.Fatalf("%v modified its input", format)
			}
			parts, _, perr := encodeJoined(enc, chunk, 1+int(flags))
			if fmt.Sprint(perr) != fmt.Sprint(err) || !reflect.DeepEqual(parts, res) {
				t.Fatalf("%v: in parts of %d, %d messages (error %v), whole %d (error %v)", format, 1+int(flags), len(parts.Messages), perr, len(res.Messages), err)
			}
			if err != nil {
				var de *DecodeError
				if !errors.As(err, &de) || de.Offset < 0 || de.Offset > len(chunk) {
					t.Fatalf("%v: bad error %#v", format, err)
				}
				continue
			}
			n := 0
			for _, m := range res.Messages {
				n += checkPayload(t, format, m)
			}
			if want := res.Records - res.Skipped; n != want {
				t.Fatalf("%v: %d records in the output, want %d", format, n, want)
			}
		}
	})
}

// checkPayload validates one message and returns its record count.
func checkPayload(t *testing.T, f Format, m []byte) int {
	if f == Msgpack {
		n := 0
		for d := NewDecoder(m); ; n++ {
			if _, err := d.Next(); err == io.EOF {
				return n
			} else if err != nil {
				t.Fatalf("msgpack message does not decode: %v", err)
			}
		}
	}
	if !utf8.Valid(m) {
		t.Fatalf("%v output is not UTF-8: %q", f, m)
	}
	switch f {
	case JSON:
		var arr []json.RawMessage
		if err := json.Unmarshal(m, &arr); err != nil {
			t.Fatalf("json output: %v: %q", err, m)
		}
		return len(arr)
	case JSONStream:
		n := 0
		for d := json.NewDecoder(bytes.NewReader(m)); ; n++ {
			var obj map[string]json.RawMessage
			if err := d.Decode(&obj); err == io.EOF {
				return n
			} else if err != nil {
				t.Fatalf("json_stream output: %v: %q", err, m)
			}
		}
	}
	lines := bytes.Split(m, []byte("\n"))
	if len(lines[len(lines)-1]) != 0 {
		t.Fatalf("%v output does not end with a newline: %q", f, m)
	}
	lines = lines[:len(lines)-1]
	for _, l := range lines {
		var obj map[string]json.RawMessage
		if !json.Valid(l) || json.Unmarshal(l, &obj) != nil {
			t.Fatalf("%v line is not a JSON object: %q", f, l)
		}
	}
	return len(lines)
}
