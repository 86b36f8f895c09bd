package encoder

import (
	"math"
	"strings"
	"testing"

	"github.com/out-websocket/out_websocket/internal/chunktest"
)

// line encodes chunk as json_lines with the given options and returns the
// output without its final newline.
func line(t *testing.T, opts Options, chunk []byte) string {
	t.Helper()
	opts.Format = JSONLines
	enc, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	res, err := enc.Encode(chunk)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Messages) != 1 {
		t.Fatalf("got %d messages", len(res.Messages))
	}
	return strings.TrimSuffix(string(res.Messages[0]), "\n")
}

func TestJSONValues(t *testing.T) {
	for _, tc := range []struct {
		name string
		v    any
		want string
	}{
		{"nil", nil, `null`},
		{"true", true, `true`},
		{"false", false, `false`},
		{"fixint", 5, `5`},
		{"negative fixint", -3, `-3`},
		{"uint8", chunktest.Raw{0xcc, 200}, `200`},
		{"int16", chunktest.Raw{0xd1, 0x80, 0x00}, `-32768`},
		{"max uint64", uint64(math.MaxUint64), `18446744073709551615`},
		{"min int64", int64(math.MinInt64), `-9223372036854775808`},
		{"double", 0.1, `0.1`},
		{"whole double", 3.0, `3.0`},
		{"negative zero", math.Copysign(0, -1), `-0.0`},
		{"big whole double", 1e18, `1000000000000000000.0`},
		{"double beyond int64", 0x1p63, `9.223372036854776e+18`},
		{"1e21", 1e21, `1e+21`},
		{"1e-7", 1e-7, `1e-07`},
		{"16 digits", 123456789.12345679, `123456789.1234568`},
		{"NaN", math.NaN(), `null`},
		{"Inf", math.Inf(-1), `null`},
		{"float32", float32(0.1), `0.1000000014901161`},
		{"whole float32", float32(2), `2.0`},
		{"string", "a\"b\\c/d", `"a\"b\\c/d"`},
		{"controls", "\x00\x01\b\f\n\r\t\x1f\x7f", `"\u0000\u0001\b\f\n\r\t\u001f\u007f"`},
		{"unicode", "é漢😀\u2028", `"\u00e9\u6f22\ud83d\ude00\u2028"`},
		{"invalid utf-8", "a\xffb\xe6\xbc", `"a\ufffdb\ufffd\ufffd"`},
		{"surrogate in utf-8", "\xed\xa0\x80", `"\ufffd\ufffd\ufffd"`},
		{"bin", []byte("a\x00é"), `"a\u0000\u00e9"`},
		{"ext", chunktest.Raw{0xd5, 0x05, 0x01, 0xff}, `"\\x01\\xff"`},
		{"timestamp ext in body", chunktest.Time(1, 2), `"\\x00\\x00\\x00\\x01\\x00\\x00\\x00\\x02"`},
		{"array", chunktest.A{1, "x", chunktest.A{}, chunktest.M{}}, `[1,"x",[],{}]`},
		{"fixmap", chunktest.Raw{0x81, 0xa1, 'k', 0x01}, `{"k":1}`},
		{"map16", chunktest.Raw{0xde, 0, 1, 0xa1, 'k', 0x01}, `{"k":1}`},
		{"str8 str16 str32", chunktest.A{chunktest.Raw{0xd9, 1, 'a'}, chunktest.Raw{0xda, 0, 1, 'b'}, chunktest.Raw{0xdb, 0, 0, 0, 1, 'c'}}, `["a","b","c"]`},
		{"duplicate keys keep the last", chunktest.M{"a", 1, "b", 2, "a", 3}, `{"b":2,"a":3}`},
		{"nested duplicates", chunktest.M{"m", chunktest.M{"x", 1, "x", 2}}, `{"m":{"x":2}}`},
		{"duplicates at every level", chunktest.M{"a", chunktest.M{"x", 1, "x", chunktest.M{"y", 1, "y", 2}}, "b", chunktest.M{"x", chunktest.M{"q", 1, "q", 2}}, "a", chunktest.M{"z", chunktest.M{"q", 1, "q", 2}, "z", 3}},
			`{"b":{"x":{"q":2}},"a":{"z":3}}`},
		{"int key", chunktest.Raw{0x81, 0x01, 0xa1, 'v'}, `{"1":"v"}`},
		{"nil key", chunktest.Raw{0x81, 0xc0, 0x01}, `{"null":1}`},
		{"bin key", chunktest.Raw{0x81, 0xc4, 0x01, 'k', 0x01}, `{"k":1}`},
		{"array key", chunktest.Raw{0x81, 0x92, 0x01, 0xa1, '"', 0x01}, `{"[1,\"\\\"\"]":1}`},
		{"keys of keys stay bare", chunktest.Raw{0x81, 0x81, 0x81, 0xa1, 'a', 0x01, 0x02, 0x03}, `{"{{\"a\":1}:2}":3}`},
		{"bin and str keys are not duplicates", chunktest.Raw{0x82, 0xc4, 0x01, 'k', 0x01, 0xa1, 'k', 0x02}, `{"k":1,"k":2}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := line(t, Options{EscapeUnicode: true}, chunktest.Event(chunktest.Time(0, 0), chunktest.M{}, chunktest.M{"v", tc.v}))
			want := `{"v":` + tc.want + `}`
			if got != want {
				t.Errorf("got  %s\nwant %s", got, want)
			}
		})
	}
}

func TestJSONRawUnicode(t *testing.T) {
	got := line(t, Options{}, chunktest.Event(chunktest.Time(0, 0), chunktest.M{}, chunktest.M{"é", "é漢😀\"\n\x7f\xff"}))
	if want := "{\"é\":\"é漢😀\\\"\\n\\u007f\uFFFD\"}"; got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func TestJSONRecord(t *testing.T) {
	ts := chunktest.Time(1795776000, 500000000)
	for _, tc := range []struct {
		name  string
		key   string
		chunk []byte
		want  string
	}{
		{"date key first", "date", chunktest.Event(ts, chunktest.M{}, chunktest.M{"a", 1}), `{"date":1795776000.5,"a":1}`},
		{"body date key wins", "date", chunktest.Event(ts, chunktest.M{}, chunktest.M{"a", 1, "date", "mine"}), `{"a":1,"date":"mine"}`},
		{"no date key", "", chunktest.Event(ts, chunktest.M{}, chunktest.M{"a", 1}), `{"a":1}`},
		{"string body", "date", chunktest.Event(ts, chunktest.M{}, "hello"), `{"date":1795776000.5,"log":"hello"}`},
		{"array body", "", chunktest.Event(ts, chunktest.M{}, chunktest.A{1, 2}), `{"log":[1,2]}`},
		{"nil body", "log", chunktest.Event(ts, chunktest.M{}, nil), `{"log":null}`},
		{"empty body", "date", chunktest.Event(ts, chunktest.M{}, chunktest.M{}), `{"date":1795776000.5}`},
		{"metadata", "", chunktest.Event(ts, chunktest.M{"m", 1}, chunktest.M{"a", 1}), `{"__internal__":{"log_metadata":{"m":1}},"a":1}`},
		{"v1 event", "date", chunktest.LegacyEvent(ts, chunktest.M{"a", 1}), `{"date":1795776000.5,"a":1}`},
		{"v1 integer time", "date", chunktest.LegacyEvent(1795776000, chunktest.M{"a", 1}), `{"date":1795776000.0,"a":1}`},
		{"v1 float time", "date", chunktest.LegacyEvent(1795776000.25, chunktest.M{"a", 1}), `{"date":1795776000.25,"a":1}`},
		{"body __internal__ wins", "", chunktest.Event(ts, chunktest.M{"m", 1}, chunktest.M{"__internal__", 0}), `{"__internal__":0}`},
		{"date key escaped", "d\"é", chunktest.Event(ts, chunktest.M{}, chunktest.M{}), `{"d\"\u00e9":1795776000.5}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := line(t, Options{DateKey: tc.key, EscapeUnicode: true}, tc.chunk); got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestGroups(t *testing.T) {
	start := func(meta, attrs any) chunktest.Raw {
		return chunktest.Event(chunktest.Raw{0xd7, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0}, meta, attrs)
	}
	end := chunktest.Event(chunktest.Raw{0xd7, 0, 0xff, 0xff, 0xff, 0xfe, 0, 0, 0, 0}, chunktest.M{}, chunktest.M{})
	ts := chunktest.Time(1, 0)
	chunk := chunktest.Cat(
		start(chunktest.M{"gm", 1}, chunktest.M{"ga", "x"}),
		chunktest.Event(ts, chunktest.M{}, chunktest.M{"a", 1}),
		chunktest.Event(ts, chunktest.M{"m", 1}, chunktest.M{"a", 2}),
		end,
		chunktest.Event(ts, chunktest.M{"m", 2}, chunktest.M{"b", 1}),
		chunktest.LegacyEvent(ts, chunktest.M{"c", 1}),
		start(chunktest.M{}, chunktest.M{}),
		chunktest.Event(ts, chunktest.M{}, chunktest.M{"d", 1}),
		chunktest.Event(ts, chunktest.M{"m", 3}, chunktest.M{"d", 2}),
		chunktest.LegacyEvent(-2, chunktest.M{}), // integer group end
		start(chunktest.M{}, chunktest.M{"g", 2}),
		chunktest.LegacyEvent(ts, chunktest.M{"e", 1}),
	)
	want := `{"__internal__":{"group_attributes":{"ga":"x"},"log_metadata":{}},"a":1}
{"__internal__":{"group_attributes":{"ga":"x"},"log_metadata":{"m":1}},"a":2}
{"__internal__":{"log_metadata":{"m":2}},"b":1}
{"c":1}
{"d":1}
{"__internal__":{"group_attributes":{},"log_metadata":{"m":3}},"d":2}
{"__internal__":{"group_attributes":{"g":2},"log_metadata":{}},"e":1}`
	if got := line(t, Options{}, chunk); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	enc, _ := New(Options{Format: JSON})
	if res, _ := enc.Encode(chunk); res.Records != 7 {
		t.Errorf("Records = %d, want 7", res.Records)
	}

	d := NewDecoder(chunk)
	first, err := d.Next()
	if err != nil || string(first.GroupAttributes) != string(enc2(chunktest.M{"ga", "x"})) || string(first.GroupMetadata) != string(enc2(chunktest.M{"gm", 1})) {
		t.Errorf("decoder: %+v, %v", first, err)
	}
}

func enc2(v any) string { return string(chunktest.Enc(v)) }

func TestDates(t *testing.T) {
	type want struct{ double, iso, epoch, ms, java string }
	for _, tc := range []struct {
		name string
		ts   any
		want want
	}{
		{"ext0", chunktest.Time(1795776003, 123456789), want{"1795776003.123457", "2026-11-27T10:40:03.123456Z", "1795776003", "1795776003123", "2026-11-27 10:40:03.123456"}},
		{"truncated not rounded", chunktest.Time(1795776003, 999999999), want{"1795776004.0", "2026-11-27T10:40:03.999999Z", "1795776003", "1795776003999", "2026-11-27 10:40:03.999999"}},
		{"epoch zero", chunktest.Time(0, 0), want{"0.0", "1970-01-01T00:00:00.000000Z", "0", "0", "1970-01-01 00:00:00.000000"}},
		{"2038 and beyond int32", chunktest.Time(1<<31, 1000), want{"2147483648.000001", "2038-01-19T03:14:08.000001Z", "2147483648", "2147483648000", "2038-01-19 03:14:08.000001"}},
		{"last ext0 second before the markers", chunktest.Time(0xfffffffd, 0), want{"4294967293.0", "2106-02-07T06:28:13.000000Z", "4294967293", "4294967293000", "2106-02-07 06:28:13.000000"}},
		{"integer", 1795776000, want{"1795776000.0", "2026-11-27T10:40:00.000000Z", "1795776000", "1795776000000", "2026-11-27 10:40:00.000000"}},
		{"float", 1795776000.25, want{"1795776000.25", "2026-11-27T10:40:00.250000Z", "1795776000", "1795776000250", "2026-11-27 10:40:00.250000"}},
		{"float32", float32(1.5), want{"1.5", "1970-01-01T00:00:01.500000Z", "1", "1500", "1970-01-01 00:00:01.500000"}},
		{"before 1970", -100, want{"-100.0", "1969-12-31T23:58:20.000000Z", "-100", "-100000", "1969-12-31 23:58:20.000000"}},
		{"float before 1970", -100.25, want{"-100.25", "1969-12-31T23:58:19.750000Z", "-101", "-100250", "1969-12-31 23:58:19.750000"}},
		{"year 10000", int64(253402300800), want{"253402300800.0", "10000-01-01T00:00:00.000000Z", "253402300800", "253402300800000", "10000-01-01 00:00:00.000000"}},
		{"year 1", int64(-62135596800), want{"-62135596800.0", "0001-01-01T00:00:00.000000Z", "-62135596800", "-62135596800000", "0001-01-01 00:00:00.000000"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			chunk := chunktest.Event(tc.ts, chunktest.M{}, chunktest.M{})
			for df, w := range map[DateFormat]string{DateDouble: tc.want.double, DateISO8601: `"` + tc.want.iso + `"`,
				DateEpoch: tc.want.epoch, DateEpochMillis: tc.want.ms, DateJavaSQLTimestamp: `"` + tc.want.java + `"`} {
				if got := line(t, Options{DateKey: "t", DateFormat: df}, chunk); got != `{"t":`+w+`}` {
					t.Errorf("%v: got %s, want %s", df, got, w)
				}
			}
		})
	}
}

// TestKeyHashWord checks the one-word key hash of appendEntries against
// keyHash, which markDups relies on.
func TestKeyHashWord(t *testing.T) {
	for _, k := range []string{"", "a", "seq", "level", "service", "abcdefgh", "abcdefghi", "trace_id_long_key"} {
		chunk := chunktest.Event(chunktest.Time(0, 0), chunktest.M{}, chunktest.M{k, 1, k, 2})
		if got := line(t, Options{}, chunk); got != `{"`+k+`":2}` {
			t.Errorf("key %q: %s", k, got)
		}
	}
}
