// decode.go walks the events of a chunk: event headers, timestamps, group
// markers, and the exported Decoder over the records.

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

// maxTimestamp bounds event seconds (either sign) to about 142 million
// years, so that millisecond and calendar arithmetic cannot overflow.
const maxTimestamp = 1 << 52

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

// eventMarker tells a record from the group markers Fluent Bit puts around
// the records of an OpenTelemetry group (event seconds -1 and -2).
type eventMarker uint8

const (
	recordEvent eventMarker = iota
	groupStart
	groupEnd
)

// rawEvent is an event header as decoded in place; positions index the chunk.
type rawEvent struct {
	start   int   // first byte of the event
	sec     int64 // event time, nsec in [0, 1e9) also before 1970
	nsec    int64
	marker  eventMarker
	metaPos int // metadata map, -1 for a v1 [ts, body] event
	bodyPos int
}

// readHead decodes the event header at p: the outer array, the timestamp and
// the metadata map. The body starts at ev.bodyPos and is left to the caller.
func readHead(b []byte, p int) (ev rawEvent, err error) {
	ev.start, ev.metaPos = p, -1
	k, n, q, err := lenHeader(b, p)
	if err != nil && !errors.Is(err, ErrTruncated) || err == nil && (k < tFixArr || k > tArr32 || n != 2) {
		return ev, errAt(p, "event is not a [header, body] array")
	}
	if err != nil {
		return ev, err
	}
	tsPos := q
	hk, hn, r, herr := lenHeader(b, q)
	v2 := herr == nil && hk >= tFixArr && hk <= tArr32
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
		if err == nil && (mk < tFixMap || mk > tMap32) || err != nil && !errors.Is(err, ErrTruncated) {
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
	switch classOf[c] {
	case tPosFix, tNegFix, tU8, tU16, tU32, tU64, tI8, tI16, tI32, tI64:
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
	case tF32, tF64:
		var f float64
		if f, q, err = readFloat(b, p); err != nil {
			return p, err
		}
		if !(f > -maxTimestamp && f < maxTimestamp) {
			return p, errAt(p, "timestamp %v out of range", f)
		}
		s := math.Trunc(f)
		ev.sec, ev.nsec = int64(s), int64((f-s)*1e9)
	case tFixExt8, tExt8:
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
			ev.marker = groupStart
		case 0xfffffffe:
			ev.marker = groupEnd
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
		ev.marker = groupStart
	case -2:
		ev.marker = groupEnd
	}
	if ev.nsec < 0 {
		ev.sec--
		ev.nsec += 1e9
	}
	return q, nil
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

var emptyMap = []byte{msgpcode.FixedMapLow}

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
	switch ev.marker {
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
