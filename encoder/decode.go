package encoder

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"time"

	"github.com/vmihailenco/msgpack/v5/msgpcode"
)

// maxDepth bounds container nesting inside an event. msgpack-c, which Fluent
// Bit decodes with, gives up far earlier; the bound keeps the recursive
// writers' stacks small whatever the input.
const maxDepth = 64

// maxTimestamp bounds event seconds (either sign) to about 142 million
// years, so that millisecond and calendar arithmetic cannot overflow.
const maxTimestamp = 1 << 52

// kind classifies a msgpack type byte. The table is built from msgpack/v5's
// msgpcode so the byte values have a single source of truth.
type kind uint8

const (
	kBad kind = iota
	kNil
	kFalse
	kTrue
	kPosFix
	kNegFix
	kU8
	kU16
	kU32
	kU64
	kI8
	kI16
	kI32
	kI64
	kF32
	kF64
	kFixStr
	kStr8
	kStr16
	kStr32
	kBin8
	kBin16
	kBin32
	kFixArr
	kArr16
	kArr32
	kFixMap
	kMap16
	kMap32
	kFixExt1
	kFixExt2
	kFixExt4
	kFixExt8
	kFixExt16
	kExt8
	kExt16
	kExt32
)

var kinds [256]kind

// valueSize is the whole size of a value that its type byte tells alone:
// scalars, fixstr and fixext; 0 for the others.
var valueSize [256]uint8

func init() {
	for c := 0; c <= int(msgpcode.PosFixedNumHigh); c++ {
		kinds[c] = kPosFix
	}
	for c := int(msgpcode.NegFixedNumLow); c <= 0xff; c++ {
		kinds[c] = kNegFix
	}
	for c := msgpcode.FixedStrLow; c <= msgpcode.FixedStrHigh; c++ {
		kinds[c] = kFixStr
	}
	for c := msgpcode.FixedArrayLow; c <= msgpcode.FixedArrayHigh; c++ {
		kinds[c] = kFixArr
	}
	for c := msgpcode.FixedMapLow; c <= msgpcode.FixedMapHigh; c++ {
		kinds[c] = kFixMap
	}
	for c, k := range map[byte]kind{
		msgpcode.Nil: kNil, msgpcode.False: kFalse, msgpcode.True: kTrue,
		msgpcode.Uint8: kU8, msgpcode.Uint16: kU16, msgpcode.Uint32: kU32, msgpcode.Uint64: kU64,
		msgpcode.Int8: kI8, msgpcode.Int16: kI16, msgpcode.Int32: kI32, msgpcode.Int64: kI64,
		msgpcode.Float: kF32, msgpcode.Double: kF64,
		msgpcode.Str8: kStr8, msgpcode.Str16: kStr16, msgpcode.Str32: kStr32,
		msgpcode.Bin8: kBin8, msgpcode.Bin16: kBin16, msgpcode.Bin32: kBin32,
		msgpcode.Array16: kArr16, msgpcode.Array32: kArr32,
		msgpcode.Map16: kMap16, msgpcode.Map32: kMap32,
		msgpcode.FixExt1: kFixExt1, msgpcode.FixExt2: kFixExt2, msgpcode.FixExt4: kFixExt4,
		msgpcode.FixExt8: kFixExt8, msgpcode.FixExt16: kFixExt16,
		msgpcode.Ext8: kExt8, msgpcode.Ext16: kExt16, msgpcode.Ext32: kExt32,
	} {
		kinds[c] = k
	}
	for c, k := range kinds {
		switch k {
		case kNil, kFalse, kTrue, kPosFix, kNegFix:
			valueSize[c] = 1
		case kU8, kI8:
			valueSize[c] = 2
		case kU16, kI16:
			valueSize[c] = 3
		case kU32, kI32, kF32:
			valueSize[c] = 5
		case kU64, kI64, kF64:
			valueSize[c] = 9
		case kFixStr:
			valueSize[c] = 1 + uint8(c)&msgpcode.FixedStrMask
		case kFixExt1, kFixExt2, kFixExt4, kFixExt8, kFixExt16:
			valueSize[c] = 2 + 1<<(k-kFixExt1)
		}
	}
}

// DecodeError reports a malformed chunk.
type DecodeError struct {
	Record int // 0-based index of the failing event in the chunk, group markers included
	Offset int // byte offset in the chunk where the problem was found
	Err    error
}

func (e *DecodeError) Error() string {
	return fmt.Sprintf("record %d at byte offset %d: %v", e.Record, e.Offset, e.Err)
}

func (e *DecodeError) Unwrap() error { return e.Err }

// ErrTruncated is the DecodeError.Err of a chunk that ends inside a value.
var ErrTruncated = errors.New("unexpected end of chunk")

// syntaxError is a decoding failure before it is tied to a record index.
type syntaxError struct {
	off int
	err error
}

func (e *syntaxError) Error() string { return e.err.Error() }

func errTruncated(off int) error { return &syntaxError{off, ErrTruncated} }

func errAt(off int, format string, args ...any) error {
	return &syntaxError{off, fmt.Errorf(format, args...)}
}

// need returns p+n, or an error when fewer than n bytes are left at p.
func need(b []byte, p, n int) (int, error) {
	if n > len(b)-p {
		return p, errTruncated(p)
	}
	return p + n, nil
}

// lenHeader decodes the header of a str, bin, array, map or ext at p. It
// returns the kind, the declared length (bytes, elements or entries) and the
// position right after the header (for ext: of the ext type byte).
func lenHeader(b []byte, p int) (kind, int, int, error) {
	if p >= len(b) {
		return kBad, 0, p, errTruncated(p)
	}
	c := b[p]
	k := kinds[c]
	var n, h int
	switch k {
	case kFixStr:
		return k, int(c & msgpcode.FixedStrMask), p + 1, nil
	case kFixArr:
		return k, int(c & msgpcode.FixedArrayMask), p + 1, nil
	case kFixMap:
		return k, int(c & msgpcode.FixedMapMask), p + 1, nil
	case kFixExt1, kFixExt2, kFixExt4, kFixExt8, kFixExt16:
		return k, 1 << (k - kFixExt1), p + 1, nil
	case kStr8, kBin8, kExt8:
		h = 2
	case kStr16, kBin16, kArr16, kMap16, kExt16:
		h = 3
	case kStr32, kBin32, kArr32, kMap32, kExt32:
		h = 5
	default:
		return k, 0, p, errAt(p, "unexpected type byte 0x%02x", c)
	}
	if h > len(b)-p {
		return k, 0, p, errTruncated(p)
	}
	switch h {
	case 2:
		n = int(b[p+1])
	case 3:
		n = int(binary.BigEndian.Uint16(b[p+1:]))
	default:
		n = int(binary.BigEndian.Uint32(b[p+1:]))
	}
	return k, n, p + h, nil
}

// checkCount rejects a container whose declared count cannot fit in the
// bytes left, before anything loops over it.
func checkCount(b []byte, p, q, n, perItem int) error {
	if n > (len(b)-q)/perItem {
		return errAt(p, "container declares %d elements, only %d bytes left", n, len(b)-q)
	}
	return nil
}

// skipValue validates the value at p and returns the position after it.
func skipValue(b []byte, p, depth int) (int, error) {
	if p >= len(b) {
		return p, errTruncated(p)
	}
	c := b[p]
	var n, q int
	switch kinds[c] {
	case kPosFix, kNegFix, kNil, kFalse, kTrue:
		return p + 1, nil
	case kU8, kI8:
		return need(b, p, 2)
	case kU16, kI16:
		return need(b, p, 3)
	case kU32, kI32, kF32:
		return need(b, p, 5)
	case kU64, kI64, kF64:
		return need(b, p, 9)
	case kFixStr:
		n = int(c & msgpcodeFixedStrMask)
		if n > len(b)-p-1 {
			return p, errAt(p, "string declares %d bytes, only %d left", n, len(b)-p-1)
		}
		return p + 1 + n, nil
	case kFixMap:
		n, q = 2*int(c&msgpcode.FixedMapMask), p+1
	case kFixArr:
		n, q = int(c&msgpcode.FixedArrayMask), p+1
	default:
		k, m, r, err := lenHeader(b, p)
		if err != nil {
			return p, err
		}
		switch k {
		case kStr8, kStr16, kStr32, kBin8, kBin16, kBin32:
			if m > len(b)-r {
				return p, errAt(p, "string declares %d bytes, only %d left", m, len(b)-r)
			}
			return r + m, nil
		case kArr16, kArr32:
			n, q = m, r
		case kMap16, kMap32:
			n, q = 2*m, r
		default: // ext: type byte then m data bytes
			if m+1 > len(b)-r {
				return p, errAt(p, "ext declares %d bytes, only %d left", m, len(b)-r-1)
			}
			return r + 1 + m, nil
		}
	}
	if depth >= maxDepth {
		return p, errAt(p, "containers nested deeper than %d", maxDepth)
	}
	if err := checkCount(b, p, q, n, 1); err != nil {
		return p, err
	}
	var err error
	for i := 0; i < n; i++ {
		// Most elements are scalars or short strings: stepped over here,
		// without a call. The rest, and any error, are left to skipValue.
		if q < len(b) {
			c := b[q]
			if m := int(valueSize[c]); m != 0 && m <= len(b)-q {
				q += m
				continue
			}
			if c == msgpcode.Str8 && q+2 <= len(b) {
				if m := 2 + int(b[q+1]); m <= len(b)-q {
					q += m
					continue
				}
			}
		}
		if q, err = skipValue(b, q, depth+1); err != nil {
			return p, err
		}
	}
	return q, nil
}

// readString returns the bytes of the str or bin at p and the position after it.
func readString(b []byte, p int) ([]byte, int, error) {
	if p < len(b) && kinds[b[p]] == kFixStr {
		// Most keys: no header to decode.
		if q := p + 1 + int(b[p]&msgpcodeFixedStrMask); q <= len(b) {
			return b[p+1 : q], q, nil
		}
	}
	k, n, q, err := lenHeader(b, p)
	if err != nil {
		return nil, p, err
	}
	if k < kFixStr || k > kBin32 {
		return nil, p, errAt(p, "expected a string, got type byte 0x%02x", b[p])
	}
	if n > len(b)-q {
		return nil, p, errAt(p, "string declares %d bytes, only %d left", n, len(b)-q)
	}
	return b[q : q+n], q + n, nil
}

// isString reports whether the type byte at p starts a str (not a bin).
func isString(b []byte, p int) bool {
	k := kinds[b[p]]
	return k >= kFixStr && k <= kStr32
}

// isMap reports the entry count of the map at p, if it is one.
func isMap(b []byte, p int) (n int, ok bool) {
	if p < 0 || p >= len(b) {
		return 0, false
	}
	k, n, _, err := lenHeader(b, p)
	return n, err == nil && k >= kFixMap && k <= kMap32
}

// Group marker kinds, as Fluent Bit tells them apart: by event seconds.
const (
	normalEvent = 0
	groupStart  = -1
	groupEnd    = -2
)

// rawEvent is an event header as decoded in place; positions index the chunk.
type rawEvent struct {
	start   int   // first byte of the event
	sec     int64 // event time, nsec in [0, 1e9) also before 1970
	nsec    int64
	kind    int // normalEvent, groupStart or groupEnd
	metaPos int // metadata map, -1 for a v1 [ts, body] event
	bodyPos int
}

// readHead decodes the event header at p: the outer array, the timestamp and
// the metadata map. The body starts at ev.bodyPos and is left to the caller.
func readHead(b []byte, p int) (ev rawEvent, err error) {
	ev.start, ev.metaPos = p, -1
	k, n, q, err := lenHeader(b, p)
	if err != nil && !errors.Is(err, ErrTruncated) || err == nil && (k < kFixArr || k > kArr32 || n != 2) {
		return ev, errAt(p, "event is not a [header, body] array")
	}
	if err != nil {
		return ev, err
	}
	tsPos := q
	hk, hn, r, herr := lenHeader(b, q)
	v2 := herr == nil && hk >= kFixArr && hk <= kArr32
	if v2 {
		if hn != 2 {
			return ev, errAt(q, "event header is not a [timestamp, metadata] array")
		}
		tsPos = r
	}
	if q, err = readTime(b, tsPos, &ev); err != nil {
		return ev, err
	}
	if v2 {
		mk, _, _, err := lenHeader(b, q)
		if err == nil && (mk < kFixMap || mk > kMap32) || err != nil && !errors.Is(err, ErrTruncated) {
			return ev, errAt(q, "event metadata is not a map")
		}
		ev.metaPos = q
		if q, err = skipValue(b, q, 0); err != nil {
			return ev, err
		}
	}
	if q >= len(b) {
		return ev, errTruncated(q)
	}
	ev.bodyPos = q
	return ev, nil
}

// readTime decodes an event timestamp: ext type 0 (uint32 seconds, uint32
// nanoseconds), integer seconds or float seconds. Like Fluent Bit, seconds of
// -1 and -2 (truncated toward zero for floats, 0xffffffff and 0xfffffffe in
// the ext form) mark group starts and ends.
func readTime(b []byte, p int, ev *rawEvent) (int, error) {
	if p >= len(b) {
		return p, errTruncated(p)
	}
	c := b[p]
	var q int
	var err error
	switch kinds[c] {
	case kPosFix, kNegFix, kU8, kU16, kU32, kU64, kI8, kI16, kI32, kI64:
		var v int64
		var ok bool
		v, ok, q, err = readInt(b, p)
		if err != nil {
			return p, err
		}
		if !ok || v > maxTimestamp || v < -maxTimestamp {
			return p, errAt(p, "timestamp out of range")
		}
		ev.sec = v
	case kF32, kF64:
		var f float64
		if f, q, err = readFloat(b, p); err != nil {
			return p, err
		}
		if !(f > -maxTimestamp && f < maxTimestamp) {
			return p, errAt(p, "timestamp %v out of range", f)
		}
		s := math.Trunc(f)
		ev.sec, ev.nsec = int64(s), int64((f-s)*1e9)
	case kFixExt8, kExt8:
		_, n, r, err := lenHeader(b, p)
		if err != nil {
			return p, err
		}
		if q, err = need(b, r, n+1); err != nil {
			return p, err
		}
		if n != 8 || b[r] != 0 {
			return p, errAt(p, "timestamp is an ext other than type 0 with 8 bytes")
		}
		sec, nsec := binary.BigEndian.Uint32(b[r+1:]), binary.BigEndian.Uint32(b[r+5:])
		switch sec {
		case 0xffffffff:
			ev.kind = groupStart
		case 0xfffffffe:
			ev.kind = groupEnd
		default:
			if nsec >= 1e9 {
				return p, errAt(p, "timestamp nanoseconds %d out of range", nsec)
			}
		}
		ev.sec, ev.nsec = int64(sec), int64(nsec)
		return q, nil
	default:
		return p, errAt(p, "timestamp is not ext type 0, an integer or a float (type byte 0x%02x)", c)
	}
	switch ev.sec {
	case -1:
		ev.kind = groupStart
	case -2:
		ev.kind = groupEnd
	}
	if ev.nsec < 0 {
		ev.sec--
		ev.nsec += 1e9
	}
	return q, nil
}

// readInt decodes the integer at p; ok is false for a uint64 beyond int64.
func readInt(b []byte, p int) (v int64, ok bool, q int, err error) {
	c := b[p]
	switch kinds[c] {
	case kPosFix:
		return int64(c), true, p + 1, nil
	case kNegFix:
		return int64(int8(c)), true, p + 1, nil
	case kU8:
		if q, err = need(b, p, 2); err == nil {
			v = int64(b[p+1])
		}
	case kI8:
		if q, err = need(b, p, 2); err == nil {
			v = int64(int8(b[p+1]))
		}
	case kU16:
		if q, err = need(b, p, 3); err == nil {
			v = int64(binary.BigEndian.Uint16(b[p+1:]))
		}
	case kI16:
		if q, err = need(b, p, 3); err == nil {
			v = int64(int16(binary.BigEndian.Uint16(b[p+1:])))
		}
	case kU32:
		if q, err = need(b, p, 5); err == nil {
			v = int64(binary.BigEndian.Uint32(b[p+1:]))
		}
	case kI32:
		if q, err = need(b, p, 5); err == nil {
			v = int64(int32(binary.BigEndian.Uint32(b[p+1:])))
		}
	case kU64:
		if q, err = need(b, p, 9); err == nil {
			u := binary.BigEndian.Uint64(b[p+1:])
			return int64(u), u <= math.MaxInt64, q, nil
		}
	case kI64:
		if q, err = need(b, p, 9); err == nil {
			v = int64(binary.BigEndian.Uint64(b[p+1:]))
		}
	default:
		return 0, false, p, errAt(p, "expected an integer, got type byte 0x%02x", c)
	}
	return v, err == nil, q, err
}

// readFloat decodes the float32 or float64 at p.
func readFloat(b []byte, p int) (float64, int, error) {
	if kinds[b[p]] == kF32 {
		q, err := need(b, p, 5)
		if err != nil {
			return 0, p, err
		}
		return float64(math.Float32frombits(binary.BigEndian.Uint32(b[p+1:]))), q, nil
	}
	q, err := need(b, p, 9)
	if err != nil {
		return 0, p, err
	}
	return math.Float64frombits(binary.BigEndian.Uint64(b[p+1:])), q, nil
}

// Event is one log record of a chunk. Its msgpack parts alias the chunk.
type Event struct {
	Sec  int64 // seconds since the Unix epoch
	Nsec int64 // nanoseconds in [0, 1e9)
	// Metadata is the record's metadata map, nil for a v1 [ts, body] event.
	Metadata []byte
	// Body is the record body, usually a map.
	Body []byte
	// GroupMetadata and GroupAttributes are the metadata and body of the
	// group start marker the record belongs to; nil outside a group.
	GroupMetadata, GroupAttributes []byte
	// Offset is where the event starts in the chunk, Raw its bytes.
	Offset int
	Raw    []byte
}

// Time returns the event time.
func (ev *Event) Time() time.Time { return time.Unix(ev.Sec, ev.Nsec) }

// Decoder iterates over the log records of a chunk, following group markers
// and skipping them the way Fluent Bit's log event decoder does.
type Decoder struct {
	b       []byte
	p       int
	n       int // events read, group markers included
	group   rawEvent
	inGroup bool
	groupAt [2]int // [start, end) of the open group marker
}

// NewDecoder returns a Decoder reading chunk. It never writes into chunk.
func NewDecoder(chunk []byte) *Decoder {
	d := new(Decoder)
	d.Reset(chunk)
	return d
}

// Reset makes d read chunk from its start.
func (d *Decoder) Reset(chunk []byte) {
	*d = Decoder{b: chunk}
}

// Next returns the next record, io.EOF after the last one, or a
// *DecodeError for a malformed chunk.
func (d *Decoder) Next() (Event, error) {
	for {
		ev, err := d.head()
		if err != nil {
			return Event{}, err
		}
		end, err := skipValue(d.b, ev.bodyPos, 0)
		if err != nil {
			return Event{}, d.fail(err)
		}
		if d.finish(&ev, end) {
			continue
		}
		out := Event{
			Sec: ev.sec, Nsec: ev.nsec,
			Body:   d.b[ev.bodyPos:end],
			Offset: ev.start,
			Raw:    d.b[ev.start:end],
		}
		if ev.metaPos >= 0 {
			out.Metadata = d.b[ev.metaPos:ev.bodyPos]
		}
		if d.inGroup {
			if d.group.metaPos >= 0 {
				out.GroupMetadata = d.b[d.group.metaPos:d.group.bodyPos]
			} else {
				out.GroupMetadata = emptyMap
			}
			out.GroupAttributes = d.b[d.group.bodyPos:d.groupAt[1]]
		}
		return out, nil
	}
}

var emptyMap = []byte{0x80}

// head decodes the header of the next event, or returns io.EOF.
func (d *Decoder) head() (rawEvent, error) {
	if d.p >= len(d.b) {
		return rawEvent{}, io.EOF
	}
	ev, err := readHead(d.b, d.p)
	if err != nil {
		return ev, d.fail(err)
	}
	return ev, nil
}

// finish moves past an event whose body ends at end, tracking groups, and
// reports whether it was a group marker.
func (d *Decoder) finish(ev *rawEvent, end int) bool {
	d.p = end
	d.n++
	switch ev.kind {
	case groupStart:
		d.group, d.inGroup, d.groupAt = *ev, true, [2]int{ev.start, end}
	case groupEnd:
		d.inGroup = false
	default:
		return false
	}
	return true
}

// fail ties a decoding error to the current event.
func (d *Decoder) fail(err error) error {
	var se *syntaxError
	if errors.As(err, &se) {
		return &DecodeError{Record: d.n, Offset: se.off, Err: se.err}
	}
	return &DecodeError{Record: d.n, Offset: d.p, Err: err}
}
