package encoder

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/out-websocket/out_websocket/internal/chunktest"
)

var allFormats = []Format{Msgpack, JSON, JSONStream, JSONLines, GELF}

func mustNew(t testing.TB, opts Options) *Encoder {
	t.Helper()
	enc, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return enc
}

// discard is an EncodeEach emit that keeps nothing.
func discard([]byte) error { return nil }

func TestParse(t *testing.T) {
	for s, want := range map[string]Format{"msgpack": Msgpack, "JSON": JSON, "json_stream": JSONStream, "Json_Lines": JSONLines, "gelf": GELF} {
		if f, err := ParseFormat(s); err != nil || f != want {
			t.Errorf("ParseFormat(%q) = %v, %v", s, f, err)
		}
		if want.String() != strings.ToLower(s) {
			t.Errorf("%v.String() = %q", want, want.String())
		}
		if want.Binary() != (want == Msgpack) {
			t.Errorf("%v.Binary() wrong", want)
		}
	}
	if _, err := ParseFormat("xml"); err == nil || !strings.Contains(err.Error(), `"xml"`) ||
		!strings.Contains(err.Error(), "msgpack, json, json_stream, json_lines, gelf") {
		t.Errorf("ParseFormat(xml) error = %v", err)
	}
	for s, want := range map[string]DateFormat{"double": DateDouble, "ISO8601": DateISO8601, "epoch": DateEpoch,
		"epoch_ms": DateEpochMillis, "epoch_millis": DateEpochMillis, "Epoch_Milliseconds": DateEpochMillis,
		"java_sql_timestamp": DateJavaSQLTimestamp} {
		if d, err := ParseDateFormat(s); err != nil || d != want {
			t.Errorf("ParseDateFormat(%q) = %v, %v", s, d, err)
		}
	}
	if _, err := ParseDateFormat("rfc3339"); err == nil || !strings.Contains(err.Error(), `"rfc3339"`) ||
		!strings.Contains(err.Error(), "double, iso8601, epoch, epoch_ms, java_sql_timestamp") {
		t.Errorf("ParseDateFormat(rfc3339) error = %v", err)
	}
	for in, want := range map[string]string{"": "date", "false": "", "Off": "", "NO": "", "@timestamp": "@timestamp", "time": "time"} {
		if got := ParseDateKey(in); got != want {
			t.Errorf("ParseDateKey(%q) = %q, want %q", in, got, want)
		}
	}
	if _, err := New(Options{Format: 9}); err == nil {
		t.Error("New accepted format 9")
	}
}

func TestDecoder(t *testing.T) {
	d := NewDecoder(readData(t, "formats/input.msgpack"))
	n := 0
	for {
		ev, err := d.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if n == 3 && (ev.Sec != 1795776003 || ev.Nsec != 123456789 || string(ev.Metadata) != "\xdf\x00\x00\x00\x00") {
			t.Errorf("event 3: %+v", ev)
		}
		if ev.GroupAttributes != nil || len(ev.Raw) == 0 || ev.Time().Unix() != ev.Sec {
			t.Errorf("event %d: %+v", n, ev)
		}
		n++
	}
	if n != 60 {
		t.Errorf("got %d events, want 60", n)
	}
}

func TestMsgpackPassThrough(t *testing.T) {
	chunk := readData(t, "formats/input.msgpack")
	var msgs [][]byte
	res, err := mustNew(t, Options{}).EncodeEach(chunk, func(m []byte) error {
		msgs = append(msgs, m)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 1 || &msgs[0][0] != &chunk[0] || len(msgs[0]) != len(chunk) || res.Records != 60 {
		t.Fatalf("msgpack is not the chunk itself: %d messages, %d records", len(msgs), res.Records)
	}
}

func TestEmptyChunk(t *testing.T) {
	markers := chunktest.Cat(chunktest.Event(chunktest.Raw{0xd7, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0}, chunktest.M{}, chunktest.M{}), chunktest.Event(chunktest.Raw{0xd7, 0, 0xff, 0xff, 0xff, 0xfe, 0, 0, 0, 0}, chunktest.M{}, chunktest.M{}))
	for _, f := range allFormats {
		for _, chunk := range [][]byte{nil, markers} {
			res, err := mustNew(t, Options{Format: f}).Encode(chunk)
			if err != nil || len(res.Messages) != 0 || res.Records != 0 {
				t.Errorf("%v: %+v, %v", f, res, err)
			}
		}
	}
}

func TestMalformed(t *testing.T) {
	good := chunktest.Event(chunktest.Time(1, 0), chunktest.M{}, chunktest.M{"a", "b"})
	L := len(good)
	hdr := []byte{0x92, 0x92, 0xd7, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0x80} // body at 13
	ev := func(body ...byte) []byte { return append(append([]byte{}, hdr...), body...) }
	deep := bytes.Repeat([]byte{0x91}, 70)
	for _, tc := range []struct {
		name           string
		chunk          []byte
		record, offset int
	}{
		{"trailing garbage", chunktest.Cat(good, chunktest.Raw{0x01}), 1, L},
		{"invalid type byte", chunktest.Cat(good, chunktest.Raw{0xc1}), 1, L},
		{"truncated string", good[:L-1], 0, L - 2},
		{"truncated event", chunktest.Cat(good, good[:5]), 1, L + 5},
		{"huge str32", ev(0xdb, 0xff, 0xff, 0xff, 0xff, 'x'), 0, 13},
		{"huge map32", ev(0xdf, 0xff, 0xff, 0xff, 0xff), 0, 13},
		{"huge array32 value", ev(0x81, 0xa1, 'k', 0xdd, 0xff, 0xff, 0xff, 0xff, 0x01), 0, 16},
		{"huge ext32", ev(0x81, 0xa1, 'k', 0xc9, 0xff, 0xff, 0xff, 0xff, 0x01), 0, 16},
		{"invalid byte in body", ev(0x81, 0xa1, 'k', 0xc1), 0, 16},
		{"string timestamp", []byte{0x92, 0x92, 0xa1, 'x', 0x80, 0x80}, 0, 2},
		{"ext 1 timestamp", []byte{0x92, 0x92, 0xd7, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0x80, 0x80}, 0, 2},
		{"nanoseconds out of range", chunktest.Cat(good, chunktest.Event(chunktest.Time(1, 1e9), chunktest.M{}, chunktest.M{})), 1, L + 10},
		{"three-element header", []byte{0x92, 0x93, 0x01, 0x80, 0x80, 0x80}, 0, 1},
		{"three-element event", []byte{0x93, 0x01, 0x80, 0x80}, 0, 0},
		{"metadata not a map", []byte{0x92, 0x92, 0x01, 0x01, 0x80}, 0, 3},
		{"missing body", []byte{0x92, 0x92, 0x01, 0x80}, 0, 4},
		{"nesting too deep", ev(deep...), 0, 13 + maxDepth},
		{"malformed group attributes", chunktest.Cat(good, chunktest.Raw{0x92, 0x92, 0xd7, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0x80, 0xc1}), 1, L + 13},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, f := range allFormats {
				orig := bytes.Clone(tc.chunk)
				_, err := mustNew(t, Options{Format: f, DateKey: "date"}).Encode(tc.chunk)
				var de *DecodeError
				if !errors.As(err, &de) {
					t.Fatalf("%v: error %v is not a *DecodeError", f, err)
				}
				if de.Record != tc.record || de.Offset != tc.offset {
					t.Errorf("%v: got record %d offset %d (%v), want record %d offset %d", f, de.Record, de.Offset, err, tc.record, tc.offset)
				}
				if want := "record "; !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), " at byte offset ") {
					t.Errorf("%v: error text %q", f, err)
				}
				if !bytes.Equal(orig, tc.chunk) {
					t.Errorf("%v: chunk modified", f)
				}
			}
		})
	}
}

// TestTruncations cuts a chunk at every byte: each cut must fail at the
// record holding it, identically in every format.
func TestTruncations(t *testing.T) {
	chunk := chunktest.SampleChunk(3, 1)
	var starts []int
	d := NewDecoder(chunk)
	for {
		ev, err := d.Next()
		if err != nil {
			break
		}
		starts = append(starts, ev.Offset)
	}
	for cut := 1; cut < len(chunk); cut++ {
		record := 0
		for record+1 < len(starts) && starts[record+1] < cut {
			record++
		}
		if record+1 < len(starts) && starts[record+1] == cut {
			continue // a cut between events is a valid chunk
		}
		var first *DecodeError
		for _, f := range allFormats {
			_, err := mustNew(t, Options{Format: f}).Encode(chunk[:cut])
			var de *DecodeError
			if !errors.As(err, &de) || de.Record != record {
				t.Fatalf("cut %d, %v: got %v, want record %d", cut, f, err, record)
			}
			if first == nil {
				first = de
			} else if de.Offset != first.Offset {
				t.Errorf("cut %d: %v reports offset %d, msgpack %d", cut, f, de.Offset, first.Offset)
			}
		}
	}
}

func TestEncodeDoesNotModifyInput(t *testing.T) {
	chunks := [][]byte{readData(t, "formats/input.msgpack"), readData(t, "gelf/input.msgpack"), chunktest.SampleChunk(200, 7)}
	for _, f := range allFormats {
		for _, max := range []int{0, 1000} {
			for _, chunk := range chunks {
				orig := bytes.Clone(chunk)
				if _, err := mustNew(t, Options{Format: f, DateKey: "date", MaxMessageSize: max}).Encode(chunk); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(orig, chunk) {
					t.Fatalf("%v modified its input", f)
				}
			}
		}
	}
}

// records returns the records of a payload, each re-encoded as a
// json_lines line, so that split and unsplit outputs can be compared.
func records(t *testing.T, f Format, msg []byte) []string {
	t.Helper()
	switch f {
	case Msgpack:
		res, err := mustNew(t, Options{Format: JSONLines, DateKey: "date"}).Encode(msg)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Messages) == 0 {
			return nil
		}
		return strings.Split(strings.TrimSuffix(string(res.Messages[0]), "\n"), "\n")
	case JSON:
		var arr []json.RawMessage
		if err := json.Unmarshal(msg, &arr); err != nil {
			t.Fatalf("message is not a JSON array: %v", err)
		}
		out := make([]string, len(arr))
		for i, r := range arr {
			out[i] = string(r)
		}
		return out
	case JSONStream:
		var out []string
		d := json.NewDecoder(bytes.NewReader(msg))
		for {
			var r json.RawMessage
			if err := d.Decode(&r); err == io.EOF {
				return out
			} else if err != nil {
				t.Fatal(err)
			}
			out = append(out, string(r))
		}
	}
	if !bytes.HasSuffix(msg, []byte("\n")) {
		t.Fatalf("message does not end with a newline")
	}
	return strings.Split(string(msg[:len(msg)-1]), "\n")
}

func TestMaxMessageSize(t *testing.T) {
	start := func(attrs any) chunktest.Raw {
		return chunktest.Event(chunktest.Raw{0xd7, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0}, chunktest.M{}, attrs)
	}
	big := strings.Repeat("x", 3000)
	chunk := chunktest.Cat(
		chunktest.Raw(chunktest.SampleChunk(5, 1)),
		start(chunktest.M{"group", 1}),
		chunktest.Raw(chunktest.SampleChunk(5, 2)),
		chunktest.Event(chunktest.Time(9, 0), chunktest.M{}, chunktest.M{"msg", big}),
		chunktest.Raw(chunktest.SampleChunk(5, 3)),
	)
	for _, f := range allFormats {
		for _, max := range []int{1, 700, 1500, 5000} {
			opts := Options{Format: f, DateKey: "date", MaxMessageSize: max, GELF: GELFKeys{ShortMessage: "msg"}}
			whole, err := mustNew(t, Options{Format: f, DateKey: "date", GELF: opts.GELF}).Encode(chunk)
			if err != nil {
				t.Fatal(err)
			}
			want := records(t, f, whole.Messages[0])
			res, err := mustNew(t, opts).Encode(chunk)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			oversized := 0
			for _, m := range res.Messages {
				r := records(t, f, m)
				if len(m) > max {
					oversized++
					if len(r) != 1 {
						t.Errorf("%v max %d: message of %d bytes holds %d records", f, max, len(m), len(r))
					}
				}
				got = append(got, r...)
			}
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("%v max %d: records differ once split into %d messages:\n%.3000s\n%.3000s", f, max, len(res.Messages), strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			if res.Oversized != oversized || res.Records != 16 {
				t.Errorf("%v max %d: Oversized %d, want %d; Records %d", f, max, res.Oversized, oversized, res.Records)
			}
			if max == 1 && len(res.Messages) != 16 {
				t.Errorf("%v max 1: %d messages, want 16", f, len(res.Messages))
			}
		}
	}
}

// TestAllocations checks that a warmed-up Encoder allocates nothing per
// record (the flush's path, EncodeEach).
func TestAllocations(t *testing.T) {
	chunk := chunktest.SampleChunk(500, 1)
	for _, f := range allFormats {
		for _, max := range []int{0, 4096} {
			enc := mustNew(t, Options{Format: f, DateKey: "date", DateFormat: DateISO8601, EscapeUnicode: true, MaxMessageSize: max})
			allocs := testing.AllocsPerRun(20, func() {
				if _, err := enc.EncodeEach(chunk, discard); err != nil {
					t.Fatal(err)
				}
			})
			if allocs > 0 {
				t.Errorf("%v max %d: %v allocations per chunk", f, max, allocs)
			}
		}
	}
}

func TestSampleChunk(t *testing.T) {
	chunk := chunktest.SampleChunk(1000, 42)
	if !bytes.Equal(chunk, chunktest.SampleChunk(1000, 42)) {
		t.Fatal("SampleChunk is not deterministic")
	}
	if per := len(chunk) / 1000; per < 350 || per > 450 {
		t.Errorf("records of %d bytes, want about 400", per)
	}
	res, err := mustNew(t, Options{Format: JSONLines}).Encode(chunk)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(res.Messages[0]), "\n"), "\n")
	for i, l := range lines {
		var rec struct{ Seq int }
		if err := json.Unmarshal([]byte(l), &rec); err != nil || rec.Seq != i || !utf8.ValidString(l) {
			t.Fatalf("line %d: seq %d, %v", i, rec.Seq, err)
		}
	}
}

// TestChunkOver256MiB: a valid chunk of any size Fluent Bit can pass (a C
// int) is encoded, not refused as undecodable; with MessageLimit its
// messages stay under the limit.
func TestChunkOver256MiB(t *testing.T) {
	const records, logLen = 5, 55 << 20 // 275 MiB
	var chunk []byte
	for i := 0; i < records; i++ {
		head := chunktest.Event(chunktest.Time(1795776000, 0), chunktest.M{}, chunktest.M{"log", ""})
		head = head[:len(head)-1] // the empty string's fixstr header
		chunk = append(chunk, head...)
		chunk = append(chunk, 0xdb)
		chunk = binary.BigEndian.AppendUint32(chunk, logLen)
		chunk = append(chunk, bytes.Repeat([]byte{'x'}, logLen)...)
	}
	for _, limit := range []int{0, 64 << 20} {
		var sizes []int
		res, err := mustNew(t, Options{MessageLimit: limit}).EncodeEach(chunk, func(m []byte) error {
			sizes = append(sizes, len(m))
			return nil
		})
		if err != nil || res.Records != records {
			t.Fatalf("limit %d: %d records, %v", limit, res.Records, err)
		}
		total := 0
		for _, n := range sizes {
			total += n
			if limit > 0 && n > limit {
				t.Errorf("limit %d: a message of %d bytes", limit, n)
			}
		}
		if total != len(chunk) {
			t.Errorf("limit %d: %d bytes in %d messages, want the chunk's %d", limit, total, len(sizes), len(chunk))
		}
	}
}

// TestEncodeParts: messages handed out in parts, joined, are the messages
// EncodeEach hands out whole, with the same result and error, in every
// format, with and without splitting, groups, records too large and a
// malformed tail; and parts are really used.
func TestEncodeParts(t *testing.T) {
	start := chunktest.Event(chunktest.Raw{0xd7, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0}, chunktest.M{}, chunktest.M{"group", 1})
	chunk := chunktest.Cat(
		chunktest.Raw(chunktest.SampleChunk(20, 1)),
		start,
		chunktest.Raw(chunktest.SampleChunk(20, 2)),
		chunktest.Event(chunktest.Time(9, 0), chunktest.M{}, chunktest.M{"msg", strings.Repeat("x", 3000)}),
		chunktest.Raw(chunktest.SampleChunk(20, 3)),
	)
	chunks := map[string][]byte{"good": chunk, "malformed tail": chunktest.Cat(chunk, chunktest.Raw{0xc1})}
	for name, chunk := range chunks {
		for _, f := range allFormats {
			for _, opts := range []Options{{}, {MaxMessageSize: 700}, {MaxMessageSize: 5000}, {MessageLimit: 2500}} {
				opts.Format, opts.DateKey, opts.GELF = f, "date", GELFKeys{ShortMessage: "msg"}
				want, wantErr := mustNew(t, opts).Encode(chunk)
				for _, partSize := range []int{1, 300, 4096} {
					res, partial, err := encodeJoined(mustNew(t, opts), chunk, partSize)
					where := fmt.Sprintf("%s, %v, max %d, limit %d, parts of %d", name, f, opts.MaxMessageSize, opts.MessageLimit, partSize)
					if fmt.Sprint(err) != fmt.Sprint(wantErr) {
						t.Errorf("%s: error %v, want %v", where, err, wantErr)
					}
					if !reflect.DeepEqual(res, want) {
						t.Errorf("%s: %d messages, result %+v; want %d messages, %+v", where, len(res.Messages),
							Result{Records: res.Records, Skipped: res.Skipped, Oversized: res.Oversized, TooLarge: res.TooLarge},
							len(want.Messages), Result{Records: want.Records, Skipped: want.Skipped, Oversized: want.Oversized, TooLarge: want.TooLarge})
					}
					if partSize < 4096 && partial == 0 {
						t.Errorf("%s: every message in one part", where)
					}
				}
			}
		}
	}
}

// encodeJoined encodes chunk with EncodeParts and joins each message's
// parts, as Encode returns messages; partial counts the parts not last. A
// message left unfinished is an error.
func encodeJoined(enc *Encoder, chunk []byte, partSize int) (res Result, partial int, err error) {
	var msgs [][]byte
	var msg []byte
	res, err = enc.EncodeParts(chunk, partSize, func(p []byte, last bool) error {
		msg = append(msg, p...)
		if !last {
			partial++
			return nil
		}
		msgs, msg = append(msgs, msg), nil
		return nil
	})
	if len(msg) != 0 {
		err = fmt.Errorf("a message left unfinished after %d bytes (error %v)", len(msg), err)
	}
	res.Messages = msgs
	return res, partial, err
}
