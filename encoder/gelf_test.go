package encoder

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/out-websocket/out_websocket/internal/chunktest"
)

// TestGELFReference compares the GELF output with Fluent Bit's, field by
// field, allowing only the differences documented in GELF.md.
func TestGELFReference(t *testing.T) {
	chunk := readData(t, "gelf/input.msgpack")
	for _, tc := range []struct {
		file string
		keys GELFKeys
	}{
		{"gelf/gelf.default", GELFKeys{}},
		{"gelf/gelf.custom", GELFKeys{ShortMessage: "msg", FullMessage: "long", Host: "service", Level: "level", Timestamp: "time"}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			enc, err := New(Options{Format: GELF, EscapeUnicode: true, GELF: tc.keys})
			if err != nil {
				t.Fatal(err)
			}
			res, err := enc.Encode(chunk)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Messages) != 1 || res.Records != 60 || res.Skipped != 0 {
				t.Fatalf("got %d messages, %d records, %d skipped", len(res.Messages), res.Records, res.Skipped)
			}
			got := strings.SplitAfter(string(res.Messages[0]), "\n")
			want := strings.SplitAfter(string(readData(t, tc.file)), "\n")
			if len(got) != len(want) {
				t.Fatalf("got %d lines, want %d", len(got), len(want))
			}
			for i := range want {
				if want[i] == "" {
					continue
				}
				if err := compareGELF(got[i], want[i]); err != nil {
					t.Errorf("line %d: %v\n got: %.300s\nwant: %.300s", i+1, err, got[i], want[i])
				}
			}
		})
	}
}

func parseGELF(line string) (map[string]any, error) {
	if !strings.HasSuffix(line, "}\n") {
		return nil, fmt.Errorf("line does not end with }\\n")
	}
	d := json.NewDecoder(strings.NewReader(line))
	d.UseNumber()
	var m map[string]any
	return m, d.Decode(&m)
}

// compareGELF returns an error unless ours and Fluent Bit's line carry the
// same fields with the same values, up to the documented differences:
// floats printed in full rather than with %f, the event timestamp with
// sub-second digits rather than truncated to milliseconds, syslog keywords
// Fluent Bit does not know mapped to numbers, and arrays as JSON text rather
// than Fluent Bit's flattened "a, b, k=v" string.
func compareGELF(ours, fb string) error {
	o, err := parseGELF(ours)
	if err != nil {
		return fmt.Errorf("ours: %v", err)
	}
	f, err := parseGELF(fb)
	if err != nil {
		return fmt.Errorf("fluent bit: %v", err)
	}
	for k := range f {
		if _, ok := o[k]; !ok {
			return fmt.Errorf("field %q missing", k)
		}
	}
	for k, ov := range o {
		fv, ok := f[k]
		if !ok {
			return fmt.Errorf("extra field %q", k)
		}
		if reflect.DeepEqual(ov, fv) || allowedGELFDiff(k, ov, fv) {
			continue
		}
		return fmt.Errorf("field %q: %v, Fluent Bit has %v", k, ov, fv)
	}
	return nil
}

func allowedGELFDiff(key string, ours, fb any) bool {
	switch o := ours.(type) {
	case json.Number:
		fn, isNum := fb.(json.Number)
		if !isNum {
			// Fluent Bit passes unknown level keywords through.
			s, _ := fb.(string)
			lvl, known := syslogLevels[strings.ToLower(s)]
			return key == "level" && known && o.String() == strconv.Itoa(lvl)
		}
		v, err := o.Float64()
		if err != nil {
			return false
		}
		if fmt.Sprintf("%f", v) == fn.String() {
			return true // Fluent Bit's %f
		}
		if key == "timestamp" {
			// Fluent Bit's event time: seconds and truncated milliseconds.
			sec, frac, _ := strings.Cut(o.String(), ".")
			return len(frac) >= 3 && sec+"."+frac[:3] == fn.String()
		}
	case string:
		if !strings.HasPrefix(o, "[") {
			return false
		}
		var arr []any
		d := json.NewDecoder(strings.NewReader(o))
		d.UseNumber()
		if d.Decode(&arr) != nil {
			return false
		}
		return fb == flattenLikeFluentBit(arr)
	}
	return false
}

// flattenLikeFluentBit renders an array as Fluent Bit's GELF formatter does.
func flattenLikeFluentBit(v any) string {
	switch v := v.(type) {
	case []any:
		parts := make([]string, len(v))
		for i, x := range v {
			parts[i] = flattenLikeFluentBit(x)
		}
		return strings.Join(parts, ", ")
	case map[string]any:
		var parts []string
		for k, x := range v {
			parts = append(parts, k+"="+flattenLikeFluentBit(x))
		}
		return strings.Join(parts, " ")
	case json.Number:
		if strings.ContainsAny(v.String(), ".eE") {
			f, _ := v.Float64()
			return fmt.Sprintf("%f", f)
		}
		return v.String()
	case nil:
		return "null"
	}
	return fmt.Sprint(v)
}

// gelfLine encodes one record with GELF options and returns the parsed
// object, or nil when the record was skipped.
func gelfLine(t *testing.T, keys GELFKeys, body any) map[string]any {
	t.Helper()
	enc, err := New(Options{Format: GELF, GELF: keys})
	if err != nil {
		t.Fatal(err)
	}
	res, err := enc.Encode(chunktest.Event(chunktest.Time(1795776000, 123456789), chunktest.M{}, body))
	if err != nil {
		t.Fatal(err)
	}
	if res.Skipped == 1 {
		if len(res.Messages) != 0 {
			t.Fatalf("skipped record still sent: %q", res.Messages)
		}
		return nil
	}
	if len(res.Messages) != 1 {
		t.Fatalf("got %d messages", len(res.Messages))
	}
	m, err := parseGELF(string(res.Messages[0]))
	if err != nil {
		t.Fatalf("%v: %s", err, res.Messages[0])
	}
	return m
}

func TestGELFFields(t *testing.T) {
	n := func(s string) json.Number { return json.Number(s) }
	for _, tc := range []struct {
		name string
		keys GELFKeys
		body any
		want map[string]any // nil: skipped
	}{
		{"minimal", GELFKeys{}, chunktest.M{"short_message", "hi"},
			map[string]any{"version": "1.1", "short_message": "hi", "timestamp": n("1795776000.123456789")}},
		{"fallback to log", GELFKeys{}, chunktest.M{"log", "line", "message", "m"},
			map[string]any{"version": "1.1", "short_message": "line", "_message": "m", "timestamp": n("1795776000.123456789")}},
		{"fallback to message", GELFKeys{}, chunktest.M{"log", nil, "message", "m"},
			map[string]any{"version": "1.1", "short_message": "m", "timestamp": n("1795776000.123456789")}},
		{"no short message", GELFKeys{}, chunktest.M{"msg", "x", "log", chunktest.M{"a", 1}}, nil},
		{"short message not a string", GELFKeys{}, chunktest.M{"short_message", chunktest.A{1}, "log", "l"},
			map[string]any{"version": "1.1", "short_message": "l", "_short_message": "[1]", "timestamp": n("1795776000.123456789")}},
		{"non-map body", GELFKeys{}, "just a line",
			map[string]any{"version": "1.1", "short_message": "just a line", "timestamp": n("1795776000.123456789")}},
		{"types", GELFKeys{}, chunktest.M{"short_message", "s", "i", -5, "u", uint64(1 << 63), "f", 0.1, "w", 2.0, "b", true,
			"n", nil, "a", chunktest.A{1, "x", nil}, "m", chunktest.M{"k", chunktest.M{"z", 1.5}, "e", chunktest.M{}}, "bin", []byte("raw"), "id", 7},
			map[string]any{"version": "1.1", "short_message": "s", "_i": n("-5"), "_u": n("9223372036854775808"),
				"_f": n("0.1"), "_w": n("2.0"), "_b": "true", "_a": `[1,"x",null]`, "_m_k_z": n("1.5"), "_bin": "raw",
				"timestamp": n("1795776000.123456789")}},
		{"levels", GELFKeys{}, chunktest.M{"short_message", "s", "level", "WARNING"},
			map[string]any{"version": "1.1", "short_message": "s", "level": n("4"), "timestamp": n("1795776000.123456789")}},
		{"level digit", GELFKeys{}, chunktest.M{"short_message", "s", "level", "5"},
			map[string]any{"version": "1.1", "short_message": "s", "level": n("5"), "timestamp": n("1795776000.123456789")}},
		{"bad level kept aside", GELFKeys{}, chunktest.M{"short_message", "s", "level", "loud"},
			map[string]any{"version": "1.1", "short_message": "s", "_level": "loud", "timestamp": n("1795776000.123456789")}},
		{"level out of range", GELFKeys{}, chunktest.M{"short_message", "s", "level", 9},
			map[string]any{"version": "1.1", "short_message": "s", "_level": n("9"), "timestamp": n("1795776000.123456789")}},
		{"record timestamp", GELFKeys{}, chunktest.M{"short_message", "s", "timestamp", 1795776000.25},
			map[string]any{"version": "1.1", "short_message": "s", "timestamp": n("1795776000.25")}},
		{"string timestamp kept aside", GELFKeys{}, chunktest.M{"short_message", "s", "timestamp", "today"},
			map[string]any{"version": "1.1", "short_message": "s", "_timestamp": "today", "timestamp": n("1795776000.123456789")}},
		{"custom keys", GELFKeys{ShortMessage: "msg", Host: "svc", FullMessage: "long", Level: "sev", Timestamp: "t"},
			chunktest.M{"msg", "s", "svc", "api", "long", "l", "sev", "crit", "t", 7, "host", "h"},
			map[string]any{"version": "1.1", "short_message": "s", "host": "api", "full_message": "l", "level": n("2"),
				"timestamp": n("7"), "_host": "h"}},
		{"first special key wins", GELFKeys{}, chunktest.M{"short_message", "a", "short_message", "b"},
			map[string]any{"version": "1.1", "short_message": "a", "timestamp": n("1795776000.123456789")}},
		{"key sanitizing", GELFKeys{}, chunktest.M{"short_message", "s", "a b/ü", 1},
			map[string]any{"version": "1.1", "short_message": "s", "_a_b___": n("1"), "timestamp": n("1795776000.123456789")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := gelfLine(t, tc.keys, tc.body)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %v\nwant %v", got, tc.want)
			}
		})
	}
}

func TestGELFSkipCounts(t *testing.T) {
	chunk := chunktest.Cat(
		chunktest.Event(chunktest.Time(1, 0), chunktest.M{}, chunktest.M{"short_message", "a"}),
		chunktest.Event(chunktest.Time(2, 0), chunktest.M{}, chunktest.M{"other", "b"}),
		chunktest.Event(chunktest.Time(3, 0), chunktest.M{}, chunktest.M{"message", "c"}),
	)
	enc, _ := New(Options{Format: GELF})
	res, err := enc.Encode(chunk)
	if err != nil {
		t.Fatal(err)
	}
	if res.Records != 3 || res.Skipped != 1 || len(res.Messages) != 1 {
		t.Fatalf("got %+v", res)
	}
	if lines := bytes.Count(res.Messages[0], []byte("\n")); lines != 2 {
		t.Errorf("got %d lines, want 2: %s", lines, res.Messages[0])
	}
}

func TestGELFTime(t *testing.T) {
	for _, tc := range []struct {
		sec, nsec int64
		want      string
	}{
		{0, 0, "0.000"},
		{1795776000, 500000000, "1795776000.500"},
		{1795776000, 1, "1795776000.000000001"},
		{-2, 500000000, "-1.500"},
		{-1, 250000000, "-0.750"},
		{-3, 0, "-3.000"},
	} {
		if got := string(appendGELFTime(nil, tc.sec, tc.nsec)); got != tc.want {
			t.Errorf("appendGELFTime(%d, %d) = %s, want %s", tc.sec, tc.nsec, got, tc.want)
		}
	}
}
