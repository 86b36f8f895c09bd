// encoder.go turns a chunk into messages: the Encoder, msgpack pass-through
// cut at record boundaries, and the text formats' message framing.

package encoder

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
)

// Result is the outcome of encoding one chunk.
type Result struct {
	// Messages are the payloads, in order: filled by Encode only.
	Messages  [][]byte
	Records   int // log records in the chunk, group markers not counted
	Skipped   int // records dropped: GELF records without any short message
	Oversized int // records alone in a message larger than MaxMessageSize
	TooLarge  int // records dropped: their message alone would pass MessageLimit
}

// Encoder encodes chunks into payloads. It keeps its buffers from one chunk
// to the next, so it is not safe for concurrent use: keep one per flushing
// goroutine (a sync.Pool of them works well).
type Encoder struct {
	opts    Options
	dateKey []byte
	// synthHash holds the key hashes of the synthetic entries, by field.
	synthHash [3]uint32

	dec      Decoder
	chunk    []byte                             // being encoded
	cur      rawEvent                           // event being written
	emit     func(m []byte) error               // EncodeEach's
	emitPart func(part []byte, last bool) error // EncodeParts's
	partSize int                                // hand out a message in parts of about this size; 0: whole
	sent     int                                // bytes of the message being written already handed out
	recStart int                                // where the record being written starts in buf
	over     bool                               // the record being written passed MessageLimit
	buf      []byte                             // text output, and msgpack messages that needed a copy

	dups    dupTracker
	keyText []byte // a non-string map key as JSON text
	inKey   bool   // writing keyText
	dates   dateCache
	gelf    gelfWriter
}

// maxChunk keeps every offset into the chunk within int32: Fluent Bit
// passes a chunk's size as a C int. Offsets into the output are ints.
const maxChunk = math.MaxInt32

// errTooLarge stops writing a record once its output passed MessageLimit.
var errTooLarge = errors.New("record larger than the message limit")

// New returns an Encoder for opts.
func New(opts Options) (*Encoder, error) {
	if opts.Format < Msgpack || opts.Format > GELF {
		return nil, fmt.Errorf("unknown format %d", int(opts.Format))
	}
	if opts.DateFormat < DateDouble || opts.DateFormat > DateJavaSQLTimestamp {
		return nil, fmt.Errorf("unknown date format %d", int(opts.DateFormat))
	}
	if opts.MaxMessageSize < 0 || opts.MessageLimit < 0 {
		return nil, errors.New("negative MaxMessageSize or MessageLimit")
	}
	e := &Encoder{opts: opts}
	if opts.DateKey != "" {
		e.dateKey = []byte(opts.DateKey)
	}
	e.dates.format = opts.DateFormat
	e.gelf.keys = newGELFKeys(opts.GELF)
	e.synthHash = [3]uint32{keyHash(e.dateKey), keyHash(keyInternal), keyHash(keyLog)}
	return e, nil
}

// EncodeEach encodes chunk, which it never modifies, and hands each
// message to emit as soon as it is complete, in order. A message is valid
// only during that call (it aliases the chunk or the Encoder's buffer, which
// the next message reuses), so encoding holds one message at a time. An
// error from emit stops the encoding and is returned. A malformed chunk
// gives a *DecodeError whatever the format, once the records before the
// malformed event were emitted. A chunk without records (or whose records
// were all dropped) emits nothing.
func (e *Encoder) EncodeEach(chunk []byte, emit func([]byte) error) (Result, error) {
	e.emit = emit
	defer func() { e.emit = nil }()
	return e.EncodeParts(chunk, 0, nil)
}

// EncodeParts is EncodeEach handing each message out in parts, cut at
// record boundaries once at least partSize bytes are ready (0: whole
// messages), last true on the final part of a message: the messages are
// the same, but a text message never sits whole in memory, and the parts
// are still in the CPU's cache when the connection copies them. A part is
// valid only during the call to emit.
func (e *Encoder) EncodeParts(chunk []byte, partSize int, emit func(part []byte, last bool) error) (Result, error) {
	if len(chunk) > maxChunk {
		return Result{}, &DecodeError{Err: fmt.Errorf("chunk of %d bytes, more than the %d a Fluent Bit chunk can hold", len(chunk), maxChunk)}
	}
	e.chunk, e.emitPart, e.partSize, e.sent = chunk, emit, max(partSize, 0), 0
	defer func() { e.chunk, e.emitPart = nil, nil }()
	e.dec.Reset(chunk)
	e.buf = e.buf[:0]
	e.dups.entries = e.dups.entries[:0]
	var res Result
	var err error
	if e.opts.Format == Msgpack {
		err = e.encodeMsgpack(chunk, &res)
	} else {
		err = e.encodeText(chunk, &res)
	}
	return res, err
}

// Encode returns every message of chunk at once, each a copy, in
// Result.Messages: for tests and tools; a flush uses EncodeEach.
func (e *Encoder) Encode(chunk []byte) (Result, error) {
	var msgs [][]byte
	res, err := e.EncodeEach(chunk, func(m []byte) error {
		msgs = append(msgs, bytes.Clone(m))
		return nil
	})
	res.Messages = msgs
	return res, err
}

// out hands a message, or a part of one, to the emit function in use.
func (e *Encoder) out(part []byte, last bool) error {
	if e.emitPart != nil {
		return e.emitPart(part, last)
	}
	return e.emit(part)
}

// splitSize is the size at which messages are cut: MaxMessageSize, else
// MessageLimit; 0 for none.
func (e *Encoder) splitSize() int {
	if e.opts.MaxMessageSize > 0 {
		return e.opts.MaxMessageSize
	}
	return e.opts.MessageLimit
}

// encodeMsgpack validates the chunk and cuts it into messages at record
// boundaries. A message that starts inside a group is given a copy of the
// group start marker, so that each message is a valid chunk on its own.
func (e *Encoder) encodeMsgpack(chunk []byte, res *Result) error {
	d := &e.dec
	max := e.splitSize()
	segStart, inMsg := 0, 0
	var prefix [2]int  // the group marker the current message starts with
	lastEnd := 0       // end of the last record in the current message
	sent := 0          // end of its parts handed out; segStart if none
	var groupAt [2]int // group open after that record
	// fail sends the records before a malformed event.
	fail := func(records int, err error) error {
		res.Records = records
		if inMsg > 0 {
			if werr := e.emitSpan(chunk, prefix, segStart, sent, lastEnd, true); werr != nil {
				return werr
			}
		}
		return err
	}
	for {
		records := res.Records
		ev, err := d.head()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fail(records, err)
		}
		end, err := skipValue(chunk, ev.bodyPos, 0)
		if err != nil {
			return fail(records, d.fail(err))
		}
		if d.finish(&ev, end) {
			continue
		}
		res.Records++
		if max > 0 {
			size := prefix[1] - prefix[0] + end - segStart
			if size > max && inMsg > 0 {
				if err := e.emitSpan(chunk, prefix, segStart, sent, lastEnd, true); err != nil {
					return err
				}
				segStart, sent, prefix, inMsg = lastEnd, lastEnd, groupAt, 0
				size = prefix[1] - prefix[0] + end - segStart
			}
			if inMsg == 0 && size > e.opts.MaxMessageSize && e.opts.MaxMessageSize > 0 {
				res.Oversized++
			}
		}
		inMsg++
		lastEnd = end
		groupAt = [2]int{}
		if d.inGroup {
			groupAt = d.groupAt
		}
		if e.partSize > 0 && lastEnd-sent >= e.partSize {
			if err := e.emitSpan(chunk, prefix, segStart, sent, lastEnd, false); err != nil {
				return err
			}
			sent = lastEnd
		}
	}
	if inMsg > 0 {
		return e.emitSpan(chunk, prefix, segStart, sent, len(chunk), true)
	}
	return nil
}

// emitSpan emits the message chunk[from:to], preceded by the group marker
// chunk[prefix[0]:prefix[1]] if any, or, when the message is handed out in
// parts, its part chunk[sent:to] (the marker before the first, where sent
// is from); last ends the message. A whole prefixed message is a copy.
func (e *Encoder) emitSpan(chunk []byte, prefix [2]int, from, sent, to int, last bool) error {
	if e.partSize > 0 {
		if sent == from && prefix[1] > prefix[0] {
			if err := e.out(chunk[prefix[0]:prefix[1]], false); err != nil {
				return err
			}
		}
		return e.out(chunk[sent:to], last)
	}
	if prefix[1] == prefix[0] {
		return e.out(chunk[from:to], true)
	}
	e.buf = append(e.buf[:0], chunk[prefix[0]:prefix[1]]...)
	e.buf = append(e.buf, chunk[from:to]...)
	err := e.out(e.buf, true)
	e.buf = e.buf[:0]
	return err
}

// encodeText writes the records of the chunk in a text format into e.buf,
// emitting a message and starting the next when the split size would be
// exceeded: e.buf holds one message and the record being written.
func (e *Encoder) encodeText(chunk []byte, res *Result) error {
	d := &e.dec
	f := e.opts.Format
	max, limit := e.splitSize(), e.opts.MessageLimit
	inMsg, open := 0, false
	// fail sends the records written before a malformed event.
	var good, records int
	fail := func(err error) error {
		e.buf, res.Records = e.buf[:good], records
		if open && inMsg > 0 {
			if werr := e.closeText(); werr != nil {
				return werr
			}
		}
		return err
	}
	for {
		good, records = len(e.buf), res.Records
		ev, err := d.head()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fail(err)
		}
		if ev.marker != recordEvent {
			end, err := skipValue(chunk, ev.bodyPos, 0)
			if err != nil {
				return fail(d.fail(err))
			}
			d.finish(&ev, end)
			continue
		}
		res.Records++
		e.cur = ev
		if !open {
			inMsg, open = 0, true
			if f == JSON {
				e.buf = append(e.buf, '[')
			}
		} else if f == JSON {
			e.buf = append(e.buf, ',')
		}
		recStart := len(e.buf)
		e.recStart, e.over = recStart, false
		var end int
		skipped := false
		if f == GELF {
			e.buf, end, skipped, err = e.appendGELF(e.buf, chunk, &ev)
		} else {
			e.buf, end, err = e.appendRecord(e.buf, chunk, &ev)
		}
		if f == JSONLines || f == GELF {
			e.buf = append(e.buf, '\n')
		}
		recSize := len(e.buf) - recStart
		if f == JSON {
			recSize += 2
		}
		tooLarge := err == nil && limit > 0 && (e.over || recSize > limit)
		if tooLarge {
			// Perhaps written only in part: its end comes from the decoder.
			if end, err = skipValue(chunk, ev.bodyPos, 0); err != nil {
				return fail(d.fail(err))
			}
			res.TooLarge++
		} else if err != nil {
			return fail(d.fail(err))
		}
		d.finish(&ev, end)
		if skipped || tooLarge {
			if skipped {
				res.Skipped++
			}
			e.buf = e.buf[:good]
			open = open && inMsg > 0
			continue
		}
		if max > 0 {
			size := e.msgSize(e.sent + len(e.buf))
			if size > max && inMsg > 0 {
				// The message ends before this record, which moves to the
				// start of the buffer; in JSON its ',' becomes the ']'.
				if f == JSON {
					e.buf[recStart-1] = ']'
				}
				if err := e.out(e.buf[:recStart], true); err != nil {
					return err
				}
				e.sent = 0
				n := 0
				if f == JSON {
					e.buf[0], n = '[', 1
				}
				n += copy(e.buf[n:], e.buf[recStart:])
				e.buf, inMsg = e.buf[:n], 0
				size = e.msgSize(n)
			}
			if inMsg == 0 && size > max {
				if e.opts.MaxMessageSize > 0 {
					res.Oversized++
				}
				if err := e.closeText(); err != nil {
					return err
				}
				open = false
				continue
			}
		}
		inMsg++
		if e.partSize > 0 && len(e.buf) >= e.partSize {
			if err := e.out(e.buf, false); err != nil {
				return err
			}
			e.sent += len(e.buf)
			e.buf = e.buf[:0]
		}
	}
	if open && inMsg > 0 {
		return e.closeText()
	}
	return nil
}

// overLimit tells, and remembers, that the record being written in dst
// passed MessageLimit, so that writing it can stop.
func (e *Encoder) overLimit(dst []byte) bool {
	if e.opts.MessageLimit > 0 && len(dst)-e.recStart > e.opts.MessageLimit {
		e.over = true
	}
	return e.over
}

// msgSize is the size of a message of n bytes of records once closed.
func (e *Encoder) msgSize(n int) int {
	if e.opts.Format == JSON {
		return n + 1
	}
	return n
}

// closeText closes the message in e.buf and emits it.
func (e *Encoder) closeText() error {
	if e.opts.Format == JSON {
		e.buf = append(e.buf, ']')
	}
	err := e.out(e.buf, true)
	e.buf, e.sent = e.buf[:0], 0
	return err
}
