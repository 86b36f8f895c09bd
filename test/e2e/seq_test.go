package e2e

// Sequence-numbered records for the fault tests: one generator that builds
// chunks as Fluent Bit 5 writes them, and one checker that parses every
// message a wstest.WSServer read in the instance's format and counts the sequence
// numbers it carries.
//
// Record seq is the v2 event
//
//	[[ext0 time(seqEpoch+seq, 0.5 s), map32 {}], map32 {"seq": seq, "log": "s<seq>:<len>:" + pad}]
//
// with the log field exactly <len> bytes, padded with one letter chosen by
// seq, so a checker can tell a corrupted or cut record from a good one; an
// "empty" record has an empty body map (map32 0) and carries its number in
// its time only. The time always carries it too, so the checker also sees
// a body that was paired with the wrong time.

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/out-websocket/out_websocket/encoder"
	"github.com/out-websocket/out_websocket/internal/chunktest"
	"github.com/out-websocket/out_websocket/internal/wstest"
	"github.com/vmihailenco/msgpack/v5"
	"github.com/vmihailenco/msgpack/v5/msgpcode"
)

// seqEpoch is the time of record 0 (2026-11-27 00:00:00 UTC); record seq is
// seqEpoch+seq seconds and half a second.
const seqEpoch = 1795737600

// seqSpec shapes the records of a chunk.
type seqSpec struct {
	LogLen int  // bytes of the log field; at least its prefix ("s<seq>:<len>:")
	Empty  bool // empty body map: no seq, no log; the number is in the time only
	Legacy bool // the event form before Fluent Bit 2.1: [time, body], no metadata
}

// appendSeqEvent appends record seq.
func appendSeqEvent(b []byte, seq int, spec seqSpec) []byte {
	var header any = []any{chunktest.Time(uint32(seqEpoch+seq), 500_000_000), chunktest.M{}}
	if spec.Legacy {
		header = chunktest.Time(uint32(seqEpoch+seq), 500_000_000)
	}
	if spec.Empty {
		return append(b, chunktest.Enc([]any{header, chunktest.M{}})...)
	}
	n := seqLogLen(seq, spec)
	prefix := seqLogPrefix(seq, n)
	log := prefix + strings.Repeat(string(seqPad(seq)), n-len(prefix))
	body := chunktest.M{"seq", chunktest.Int32(int32(seq)), "log", log}
	return append(b, chunktest.Enc([]any{header, body})...)
}

// seqLogLen is the length of record seq's log field: spec.LogLen, or the
// shortest that holds its prefix.
func seqLogLen(seq int, spec seqSpec) int {
	n := spec.LogLen
	for len(seqLogPrefix(seq, n)) > n {
		n = len(seqLogPrefix(seq, n))
	}
	return n
}

func seqLogPrefix(seq, n int) string { return "s" + strconv.Itoa(seq) + ":" + strconv.Itoa(n) + ":" }
func seqPad(seq int) byte            { return 'a' + byte(seq%26) }

// seqChunk is a chunk of records first .. first+n-1.
func seqChunk(first, n int, spec seqSpec) []byte {
	size := 40
	if !spec.Empty {
		size += 30 + spec.LogLen
	}
	b := make([]byte, 0, n*size)
	for i := 0; i < n; i++ {
		b = appendSeqEvent(b, first+i, spec)
	}
	return b
}

// seqChunks cuts records first .. first+total-1 into chunks of perChunk.
func seqChunks(first, total, perChunk int, spec seqSpec) [][]byte {
	var out [][]byte
	for i := 0; i < total; i += perChunk {
		out = append(out, seqChunk(first+i, min(perChunk, total-i), spec))
	}
	return out
}

// seqTally is what a checker found in the messages of one server.
type seqTally struct {
	Format   string
	Lo, Hi   int     // the records expected: lo .. hi-1
	Count    []int32 // deliveries of lo+i
	Messages int
	Records  int      // records parsed, duplicates included
	Bad      []string // messages or records that did not parse or check, and records out of [lo, hi)
}

// Missing lists the records never delivered.
func (s *seqTally) Missing() []int {
	var out []int
	for i, c := range s.Count {
		if c == 0 {
			out = append(out, s.Lo+i)
		}
	}
	return out
}

// Duplicates counts extra deliveries (a record seen three times counts 2).
func (s *seqTally) Duplicates() int {
	d := 0
	for _, c := range s.Count {
		if c > 1 {
			d += int(c) - 1
		}
	}
	return d
}

func (s *seqTally) bad(format string, args ...any) {
	if len(s.Bad) < 20 {
		s.Bad = append(s.Bad, fmt.Sprintf(format, args...))
	} else if len(s.Bad) == 20 {
		s.Bad = append(s.Bad, "...")
	}
}

// checkSeq parses every message in format (msgpack, json, json_lines,
// json_stream) and counts records lo .. hi-1. A msgpack message must be a
// BINARY frame, the others TEXT.
func checkSeq(msgs []wstest.WSMessage, format string, lo, hi int) *seqTally {
	s := &seqTally{Format: format, Lo: lo, Hi: hi, Count: make([]int32, hi-lo)}
	for i, m := range msgs {
		s.Messages++
		if m.Binary != (format == "msgpack") {
			s.bad("message %d (conn %d): binary=%v in format %s", i, m.Conn, m.Binary, format)
			continue
		}
		if err := s.message(format, m.Data); err != nil {
			s.bad("message %d (conn %d, %d bytes): %v", i, m.Conn, len(m.Data), err)
		}
	}
	return s
}

func (s *seqTally) message(format string, data []byte) error {
	switch format {
	case "msgpack":
		d := encoder.NewDecoder(data)
		for {
			ev, err := d.Next()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
			if err := s.msgpackRecord(ev); err != nil {
				return err
			}
		}
	case "json":
		var recs []json.RawMessage
		if err := json.Unmarshal(data, &recs); err != nil {
			return fmt.Errorf("not a JSON array: %v", err)
		}
		for _, r := range recs {
			if err := s.jsonRecord(r); err != nil {
				return err
			}
		}
		return nil
	case "json_lines":
		if len(data) == 0 || data[len(data)-1] != '\n' {
			return errors.New("json_lines message does not end with a newline")
		}
		for line := range bytes.SplitSeq(data[:len(data)-1], []byte{'\n'}) {
			if err := s.jsonRecord(line); err != nil {
				return err
			}
		}
		return nil
	case "json_stream":
		dec := json.NewDecoder(bytes.NewReader(data))
		for {
			var r json.RawMessage
			if err := dec.Decode(&r); err == io.EOF {
				return nil
			} else if err != nil {
				return err
			}
			if err := s.jsonRecord(r); err != nil {
				return err
			}
		}
	}
	return fmt.Errorf("checkSeq: unknown format %q", format)
}

type seqBody struct {
	Seq *int64
	Log *string
}

func (s *seqTally) msgpackRecord(ev encoder.Event) error {
	if ev.Nsec != 500_000_000 {
		return fmt.Errorf("record at byte %d: time %d.%09d is not one of the generator's", ev.Offset, ev.Sec, ev.Nsec)
	}
	if seq, log, ok := fastMsgpackBody(ev.Body); ok {
		if len(ev.Body) == 5 {
			return s.record(int(ev.Sec-seqEpoch), 0, seqBody{})
		}
		return s.record(int(ev.Sec-seqEpoch), 2, seqBody{Seq: &seq, Log: &log})
	}
	// Loose decoding gives every integer as int64 or uint64.
	var keys map[string]any
	dec := msgpack.NewDecoder(bytes.NewReader(ev.Body))
	dec.UseLooseInterfaceDecoding(true)
	if err := dec.Decode(&keys); err != nil {
		return fmt.Errorf("record at byte %d: body: %v", ev.Offset, err)
	}
	var body seqBody
	var n int64
	switch v := keys["seq"].(type) {
	case int64:
		n = v
	case uint64:
		n = int64(v)
	}
	if _, ok := keys["seq"]; ok {
		body.Seq = &n
	}
	if l, ok := keys["log"].(string); ok {
		body.Log = &l
	}
	return s.record(int(ev.Sec-seqEpoch), len(keys), body)
}

// fastMsgpackBody reads a body exactly as the generator writes it (empty,
// or map32 {"seq": int32, "log": str}); anything else takes the general
// path. An empty body gives an empty log (nkeys 0 for record).
func fastMsgpackBody(b []byte) (seq int64, log string, ok bool) {
	if bytes.Equal(b, []byte{msgpcode.Map32, 0, 0, 0, 0}) {
		return 0, "", true
	}
	head := []byte{msgpcode.Map32, 0, 0, 0, 2, msgpcode.FixedStrLow | 3, 's', 'e', 'q', msgpcode.Int32}
	if len(b) < len(head)+4+4+1 || !bytes.Equal(b[:len(head)], head) {
		return 0, "", false
	}
	seq = int64(int32(binary.BigEndian.Uint32(b[len(head):])))
	p := len(head) + 4
	if !bytes.Equal(b[p:p+4], []byte{msgpcode.FixedStrLow | 3, 'l', 'o', 'g'}) {
		return 0, "", false
	}
	p += 4
	var n int
	switch c := b[p]; {
	case msgpcode.IsFixedString(c):
		n, p = int(c&msgpcode.FixedStrMask), p+1
	case c == msgpcode.Str8 && len(b) > p+1:
		n, p = int(b[p+1]), p+2
	case c == msgpcode.Str16 && len(b) > p+2:
		n, p = int(binary.BigEndian.Uint16(b[p+1:])), p+3
	case c == msgpcode.Str32 && len(b) > p+4:
		n, p = int(binary.BigEndian.Uint32(b[p+1:])), p+5
	default:
		return 0, "", false
	}
	if len(b)-p != n {
		return 0, "", false
	}
	return seq, string(b[p:]), true
}

// fastJSONRecord reads a record exactly as the plugin writes the
// generator's records with the default date format:
// {"date":<sec>.5,"seq":<n>,"log":"<ascii>"} or {"date":<sec>.5}.
// Anything else takes the general path.
func fastJSONRecord(raw []byte) (sec int, body seqBody, nkeys int, ok bool) {
	rest, ok := bytes.CutPrefix(raw, []byte(`{"date":`))
	if !ok {
		return
	}
	i := 0
	for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
		sec = sec*10 + int(rest[i]-'0')
		i++
	}
	if i == 0 || i > 12 {
		return 0, body, 0, false
	}
	rest = rest[i:]
	if string(rest) == ".5}" {
		return sec, body, 0, true
	}
	if rest, ok = bytes.CutPrefix(rest, []byte(`.5,"seq":`)); !ok {
		return 0, body, 0, false
	}
	var n int64
	i = 0
	for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' && i < 12 {
		n = n*10 + int64(rest[i]-'0')
		i++
	}
	if i == 0 {
		return 0, body, 0, false
	}
	if rest, ok = bytes.CutPrefix(rest[i:], []byte(`,"log":"`)); !ok {
		return 0, body, 0, false
	}
	log, ok := bytes.CutSuffix(rest, []byte(`"}`))
	if !ok || bytes.IndexAny(log, "\\\"") >= 0 {
		return 0, body, 0, false
	}
	l := string(log)
	return sec, seqBody{Seq: &n, Log: &l}, 2, true
}

func (s *seqTally) jsonRecord(raw []byte) error {
	if sec, body, nkeys, ok := fastJSONRecord(raw); ok {
		return s.record(sec-seqEpoch, nkeys, body)
	}
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(raw, &keys); err != nil {
		return fmt.Errorf("record %.80q: %v", raw, err)
	}
	var date float64
	dateRaw, ok := keys["date"]
	if !ok {
		return fmt.Errorf("record %.80q has no date", raw)
	}
	delete(keys, "date")
	var iso string
	if json.Unmarshal(dateRaw, &date) != nil {
		if err := json.Unmarshal(dateRaw, &iso); err != nil {
			return fmt.Errorf("record %.80q: date: %v", raw, err)
		}
		tm, err := time.Parse(time.RFC3339Nano, iso)
		if err != nil {
			return fmt.Errorf("record %.80q: date: %v", raw, err)
		}
		date = float64(tm.Unix()) + float64(tm.Nanosecond())/1e9
	}
	if date-float64(int64(date)) != 0.5 {
		return fmt.Errorf("record %.80q: date %v is not one of the generator's", raw, date)
	}
	var body seqBody
	if v, ok := keys["seq"]; ok && json.Unmarshal(v, &body.Seq) != nil {
		body.Seq = nil
	}
	if v, ok := keys["log"]; ok && json.Unmarshal(v, &body.Log) != nil {
		body.Log = nil
	}
	return s.record(int(date)-seqEpoch, len(keys), body)
}

// record checks one record whose time says seq and whose body has nkeys keys.
func (s *seqTally) record(seq, nkeys int, body seqBody) error {
	s.Records++
	if nkeys > 0 {
		if nkeys != 2 || body.Seq == nil || body.Log == nil {
			return fmt.Errorf("record %d: body has %d keys, want seq and log", seq, nkeys)
		}
		if int(*body.Seq) != seq {
			return fmt.Errorf("record with time of %d has seq %d", seq, *body.Seq)
		}
		if err := checkSeqLog(seq, *body.Log); err != nil {
			return err
		}
	}
	if seq < s.Lo || seq >= s.Hi {
		s.bad("record %d is not one of this server's (%d..%d)", seq, s.Lo, s.Hi-1)
		return nil
	}
	s.Count[seq-s.Lo]++
	return nil
}

func checkSeqLog(seq int, log string) error {
	prefix := "s" + strconv.Itoa(seq) + ":"
	rest, ok := strings.CutPrefix(log, prefix)
	if !ok {
		return fmt.Errorf("record %d: log %.40q does not start with %q", seq, log, prefix)
	}
	lenStr, pad, ok := strings.Cut(rest, ":")
	n, err := strconv.Atoi(lenStr)
	if !ok || err != nil || n != len(log) {
		return fmt.Errorf("record %d: log of %d bytes, its prefix says %q", seq, len(log), lenStr)
	}
	want := seqPad(seq)
	for i := 0; i < len(pad); i++ {
		if pad[i] != want {
			return fmt.Errorf("record %d: log byte %d is %q, want %q", seq, len(log)-len(pad)+i, pad[i], want)
		}
	}
	return nil
}

// requireAll fails the test unless every message parsed and every record
// lo .. hi-1 arrived at least once (and nothing else did); it logs the
// duplicates.
func (s *seqTally) requireAll(t testing.TB, what string) {
	t.Helper()
	for _, b := range s.Bad {
		t.Errorf("%s: %s", what, b)
	}
	if miss := s.Missing(); len(miss) > 0 {
		t.Errorf("%s: %d of %d records never arrived: %s", what, len(miss), s.Hi-s.Lo, seqRanges(miss))
	}
	t.Logf("%s: %d messages, %d records (%d expected), %d duplicates", what, s.Messages, s.Records, s.Hi-s.Lo, s.Duplicates())
}

// seqRanges writes sorted numbers as "1-5, 9, ..." (the first 20 ranges).
func seqRanges(nums []int) string {
	sort.Ints(nums)
	var parts []string
	for i := 0; i < len(nums); {
		j := i
		for j+1 < len(nums) && nums[j+1] == nums[j]+1 {
			j++
		}
		if len(parts) == 20 {
			parts = append(parts, "...")
			break
		}
		if i == j {
			parts = append(parts, strconv.Itoa(nums[i]))
		} else {
			parts = append(parts, fmt.Sprintf("%d-%d", nums[i], nums[j]))
		}
		i = j + 1
	}
	return strings.Join(parts, ", ")
}

// TestSeqChecker checks the generator and checker against each other and
// the plugin-independent ways a record can be wrong.
func TestSeqChecker(t *testing.T) {
	chunk := seqChunk(10, 5, seqSpec{LogLen: 40})
	s := checkSeq([]wstest.WSMessage{{Binary: true, Data: chunk}, {Binary: true, Data: seqChunk(12, 1, seqSpec{Empty: true})}}, "msgpack", 10, 16)
	if len(s.Bad) != 0 || s.Records != 6 || s.Duplicates() != 1 || !equalInts(s.Missing(), []int{15}) {
		t.Fatalf("good chunk: %+v missing %v", s, s.Missing())
	}
	// One byte of a log changed, a cut chunk, a record of another server.
	bad := bytes.Clone(chunk)
	bad[len(bad)-1] = 'Z'
	for _, tc := range []struct {
		name string
		data []byte
		lo   int
	}{{"corrupt", bad, 10}, {"cut", chunk[:len(chunk)-3], 10}, {"foreign", chunk, 11}} {
		if s := checkSeq([]wstest.WSMessage{{Binary: true, Data: tc.data}}, "msgpack", tc.lo, 15); len(s.Bad) == 0 {
			t.Errorf("%s: no error", tc.name)
		}
	}
	lines := `{"date":1795737610.5,"seq":10,"log":"s10:7:k"}` + "\n" + `{"date":"2026-11-27T00:00:11.500000Z"}` + "\n"
	if s := checkSeq([]wstest.WSMessage{{Data: []byte(lines)}}, "json_lines", 10, 12); len(s.Bad) != 0 || len(s.Missing()) != 0 {
		t.Fatalf("json_lines: %+v", s)
	}
	if s := checkSeq([]wstest.WSMessage{{Data: []byte(`[{"date":1795737610.5,"seq":10,"log":"s10:7:j"}]`)}}, "json", 10, 11); len(s.Bad) == 0 {
		t.Fatalf("json: wrong pad letter not seen")
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// The fast paths agree with the general ones: the same records pass, the
// same flaws are found.
func TestSeqCheckerFastPaths(t *testing.T) {
	chunk := seqChunk(100, 3, seqSpec{LogLen: 300})
	chunk = append(chunk, seqChunk(103, 1, seqSpec{Empty: true})...)
	if s := checkSeq([]wstest.WSMessage{{Binary: true, Data: chunk}}, "msgpack", 100, 104); len(s.Bad) != 0 || len(s.Missing()) != 0 {
		t.Fatalf("msgpack: %+v", s)
	}
	line := func(seq int, log string) string {
		return fmt.Sprintf(`{"date":%d.5,"seq":%d,"log":"%s"}`, seqEpoch+seq, seq, log) + "\n"
	}
	for _, tc := range []struct {
		lines string
		ok    bool
	}{
		{line(5, "s5:7:f") + fmt.Sprintf(`{"date":%d.5}`, seqEpoch+6) + "\n", false}, // log shorter than it says
		{line(5, "s5:7:ff") + fmt.Sprintf(`{"date":%d.5}`, seqEpoch+6) + "\n", true},
		{line(5, "s5:7:fg"), false},
		{strings.Replace(line(5, "s5:7:ff"), `"seq":5`, `"seq":4`, 1), false},
		{strings.Replace(line(5, "s5:7:ff"), `.5,`, `.25,`, 1), false},
	} {
		s := checkSeq([]wstest.WSMessage{{Data: []byte(tc.lines)}}, "json_lines", 5, 7)
		if (len(s.Bad) == 0) != tc.ok {
			t.Errorf("%q: bad %v, want ok %v", tc.lines, s.Bad, tc.ok)
		}
	}
}
