package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/out-websocket/out_websocket/encoder"
	"github.com/out-websocket/out_websocket/internal/chunktest"
)

// TestMain lets the test binary be the bare client, as the benchmark's
// own binary is, when the benchmark runs it as one (see runBare).
func TestMain(m *testing.M) {
	bareChild()
	os.Exit(m.Run())
}

// TestQuick runs the whole benchmark with -quick sizes against the plugin
// and host built from this tree, and checks that the server counted every
// record of every format (run fails otherwise) and that each row is there.
func TestQuick(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("make", "-C", root, "build", "host").CombinedOutput(); err != nil {
		t.Fatalf("make build host: %v\n%s", err, out)
	}
	cfg := quickConfig()
	cfg.host = filepath.Join(root, "test/flbhost/flbhost")
	cfg.plugin = filepath.Join(root, "out_websocket.so")
	ctx, cancel := context.WithTimeout(context.Background(), cfg.timeout)
	defer cancel()

	var log strings.Builder
	rep, err := run(ctx, cfg, &log)
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	want := rep.in.records * int64(rep.rows[0].bytes/rep.in.bytes)
	for _, w := range cfg.workers {
		for _, f := range cfg.formats {
			r := findPlugin(t, rep, f, w)
			if r.records != want || r.cpu <= 0 || r.maxRSS <= 0 || r.elapsed <= 0 {
				t.Errorf("%v, Workers %d: %d records (want %d), cpu %v, peak RSS %d, elapsed %v",
					f, w, r.records, want, r.cpu, r.maxRSS, r.elapsed)
			}
			if c := rep.bareOf(f, w); c.records != want || c.cpu <= 0 {
				t.Errorf("bare client, %v, Workers %d: %d records (want %d), cpu %v", f, w, c.records, want, c.cpu)
			}
		}
		if n := rep.nullOf(w); n.cpu <= 0 || n.maxRSS <= 0 {
			t.Errorf("out_null, Workers %d: cpu %v, peak RSS %d", w, n.cpu, n.maxRSS)
		}
	}
	if got, want := len(rep.rss), 2*len(cfg.workers); got != want {
		t.Errorf("%d RSS checks, want %d", got, want)
	}
	doc := rep.document("go test ./test/bench")
	for _, s := range []string{"| 0 | msgpack |", "| 2 | gelf |", "Targets:", "Workers 2, json_lines", "× the bare client's, Workers 0"} {
		if !strings.Contains(doc, s) {
			t.Errorf("the report lacks %q:\n%s", s, doc)
		}
	}
	t.Log("\n" + doc)
}

// TestCount checks the server's counting against the encoder's own record
// count, on sample records full of quotes, backslashes and non-ASCII text,
// whole and cut into small messages; and that a truncated message fails.
func TestCount(t *testing.T) {
	chunk := chunktest.SampleChunk(300, 7)
	for _, f := range []encoder.Format{encoder.Msgpack, encoder.JSON, encoder.JSONStream, encoder.JSONLines, encoder.GELF} {
		for _, size := range []int{0, 4096} {
			enc, err := encoder.New(encoder.Options{Format: f, DateKey: "date", MaxMessageSize: size,
				EscapeUnicode: size == 0, GELF: encoder.GELFKeys{ShortMessage: "msg"}})
			if err != nil {
				t.Fatal(err)
			}
			res, err := enc.Encode(chunk)
			if err != nil {
				t.Fatal(err)
			}
			c := counter{format: f}
			total := 0
			for i, m := range res.Messages {
				n, err := c.count(m)
				if err != nil {
					t.Fatalf("%v, message %d: %v", f, i, err)
				}
				total += n
				if _, err := c.count(m[:len(m)-1]); err == nil {
					t.Errorf("%v: message %d cut short counted without error", f, i)
				}
			}
			if total != 300 || res.Records != 300 {
				t.Errorf("%v, max message size %d: counted %d records, the encoder %d, want 300", f, size, total, res.Records)
			}
		}
	}
}

func findPlugin(t *testing.T, rep *report, f encoder.Format, workers int) result {
	t.Helper()
	for _, r := range rep.rows {
		if r.kind == pluginRow && r.format == f && r.workers == workers {
			return r
		}
	}
	t.Fatalf("no row for %v, Workers %d", f, workers)
	return result{}
}

// bareOf returns the bare client row of format f measured for workers.
func (rep *report) bareOf(f encoder.Format, workers int) result {
	for _, r := range rep.rows {
		if r.kind == bareRow && r.format == f && r.workers == workers {
			return r
		}
	}
	panic("no bare client row of " + f.String() + " for Workers " + strconv.Itoa(workers))
}

// TestBareOptions: the bare client takes the plugin properties that change
// what is sent, and refuses the others rather than compare unlike runs.
func TestBareOptions(t *testing.T) {
	def := encoder.Options{Format: encoder.JSONLines, DateKey: "date", DateFormat: encoder.DateDouble, EscapeUnicode: true, MessageLimit: 64 << 20}
	for _, tc := range []struct {
		props   []string
		want    func(o *encoder.Options)
		confirm bool
		wantErr bool
	}{
		{nil, func(*encoder.Options) {}, true, false},
		{[]string{"uri=ws://x/", "workers=2", "json_escape_unicode=off"}, func(o *encoder.Options) { o.EscapeUnicode = false }, true, false},
		{[]string{"confirm_delivery=off"}, func(*encoder.Options) {}, false, false},
		{[]string{"json_date_key=false", "json_date_format=iso8601", "max_message_size=4096"},
			func(o *encoder.Options) { o.DateKey, o.DateFormat, o.MaxMessageSize = "", encoder.DateISO8601, 4096 }, true, false},
		{[]string{"compress=on"}, nil, true, true},
		{[]string{"json_date_format=weekday"}, nil, true, true},
		{[]string{"confirm_delivery=maybe"}, nil, true, true},
	} {
		o, confirm, err := bareOptions("json_lines", tc.props)
		if tc.wantErr {
			if err == nil {
				t.Errorf("%q: no error", tc.props)
			}
			continue
		}
		want := def
		tc.want(&want)
		if err != nil || o != want || confirm != tc.confirm {
			t.Errorf("%q: %+v, confirm %v, error %v; want %+v, confirm %v", tc.props, o, confirm, err, want, tc.confirm)
		}
	}
}
