// encoder.go turns a chunk into messages: the Encoder, msgpack pass-through
// cut at record boundaries, and the text formats' message framing.

package encoder

import (
	"errors"
	"fmt"
	"io"
)

// Result is the outcome of encoding one chunk.
type Result struct {
	// Messages are the payloads to send, in order. They alias the
	// Encoder's buffers (or, for msgpack, the chunk itself) and stay valid
	// until the next call to Encode.
	Messages  [][]byte
	Records   int // log records in the chunk, group markers not counted
	Skipped   int // records dropped: GELF records without any short message
	Oversized int // records alone in a message larger than MaxMessageSize
}

// Encoder encodes chunks into payloads. It keeps its buffers from one chunk
// to the next, so it is not safe for concurrent use: keep one per flushing
// goroutine (a sync.Pool of them works well).
type Encoder struct {
	opts    Options
	dateKey []byte
	// synthHash holds the key hashes of the synthetic entries, by field.
	synthHash [3]uint32

	dec   Decoder
	chunk []byte   // being encoded
	cur   rawEvent // event being written
	buf   []byte   // text output, and msgpack messages that needed a copy
	spans []span   // the messages, as ranges of chunk or buf
	msgs  [][]byte // Result.Messages

	dups    dupTracker
	keyText []byte // a non-string map key as JSON text
	inKey   bool   // writing keyText
	dates   dateCache
	gelf    gelfWriter
}

// maxChunk keeps every offset into the chunk and into the output (at most
// 6 bytes per input byte) within int32.
const maxChunk = 256 << 20

// span is a message: bytes [from, to) of the chunk, or of the Encoder's
// buffer when inBuf is set.
type span struct {
	from, to int
	inBuf    bool
}

// New returns an Encoder for opts.
func New(opts Options) (*Encoder, error) {
	if opts.Format < Msgpack || opts.Format > GELF {
		return nil, fmt.Errorf("unknown format %d", int(opts.Format))
	}
	if opts.DateFormat < DateDouble || opts.DateFormat > DateJavaSQLTimestamp {
		return nil, fmt.Errorf("unknown date format %d", int(opts.DateFormat))
	}
	if opts.MaxMessageSize < 0 {
		return nil, errors.New("negative MaxMessageSize")
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

// Encode encodes chunk, which it never modifies. A malformed chunk gives a
// *DecodeError whatever the format. A chunk without records (or whose
// records were all skipped) gives no messages.
func (e *Encoder) Encode(chunk []byte) (Result, error) {
	if len(chunk) > maxChunk {
		return Result{}, &DecodeError{Err: fmt.Errorf("chunk of %d bytes, more than the %d supported", len(chunk), maxChunk)}
	}
	e.chunk = chunk
	defer func() { e.chunk = nil }()
	e.dec.Reset(chunk)
	e.buf = e.buf[:0]
	e.dups.entries = e.dups.entries[:0]
	e.spans = e.spans[:0]
	var res Result
	var err error
	if e.opts.Format == Msgpack {
		err = e.encodeMsgpack(chunk, &res)
	} else {
		err = e.encodeText(chunk, &res)
	}
	if err != nil {
		return Result{}, err
	}
	clear(e.msgs)
	e.msgs = e.msgs[:0]
	for _, s := range e.spans {
		if s.inBuf {
			e.msgs = append(e.msgs, e.buf[s.from:s.to:s.to])
		} else {
			e.msgs = append(e.msgs, chunk[s.from:s.to:s.to])
		}
	}
	res.Messages = e.msgs
	return res, nil
}

// encodeMsgpack validates the chunk and cuts it into messages at record
// boundaries. A message that starts inside a group is given a copy of the
// group start marker, so that each message is a valid chunk on its own.
func (e *Encoder) encodeMsgpack(chunk []byte, res *Result) error {
	d := &e.dec
	max := e.opts.MaxMessageSize
	segStart, inMsg := 0, 0
	var prefix [2]int  // the group marker the current message starts with
	lastEnd := 0       // end of the last record in the current message
	var groupAt [2]int // group open after that record
	for {
		ev, err := d.head()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		end, err := skipValue(chunk, ev.bodyPos, 0)
		if err != nil {
			return d.fail(err)
		}
		if d.finish(&ev, end) {
			continue
		}
		res.Records++
		if max > 0 {
			size := prefix[1] - prefix[0] + end - segStart
			if size > max && inMsg > 0 {
				e.addSpan(chunk, prefix, segStart, lastEnd)
				segStart, prefix, inMsg = lastEnd, groupAt, 0
				size = prefix[1] - prefix[0] + end - segStart
			}
			if inMsg == 0 && size > max {
				res.Oversized++
			}
		}
		inMsg++
		lastEnd = end
		groupAt = [2]int{}
		if d.inGroup {
			groupAt = d.groupAt
		}
	}
	if inMsg > 0 {
		e.addSpan(chunk, prefix, segStart, len(chunk))
	}
	return nil
}

// addSpan records the message chunk[from:to], preceded by the group marker
// chunk[prefix[0]:prefix[1]] if any; a prefixed message is copied.
func (e *Encoder) addSpan(chunk []byte, prefix [2]int, from, to int) {
	if prefix[1] == prefix[0] {
		e.spans = append(e.spans, span{from: from, to: to})
		return
	}
	start := len(e.buf)
	e.buf = append(e.buf, chunk[prefix[0]:prefix[1]]...)
	e.buf = append(e.buf, chunk[from:to]...)
	e.spans = append(e.spans, span{from: start, to: len(e.buf), inBuf: true})
}

// encodeText writes the records of the chunk in a text format into e.buf,
// opening a new message when MaxMessageSize would be exceeded.
func (e *Encoder) encodeText(chunk []byte, res *Result) error {
	d := &e.dec
	f := e.opts.Format
	max := e.opts.MaxMessageSize
	msgStart, inMsg, open := 0, 0, false
	for {
		ev, err := d.head()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if ev.marker != recordEvent {
			end, err := skipValue(chunk, ev.bodyPos, 0)
			if err != nil {
				return d.fail(err)
			}
			d.finish(&ev, end)
			continue
		}
		res.Records++
		e.cur = ev
		if !open {
			msgStart, inMsg, open = len(e.buf), 0, true
			if f == JSON {
				e.buf = append(e.buf, '[')
			}
		} else if f == JSON {
			e.buf = append(e.buf, ',')
		}
		recStart := len(e.buf)
		var end int
		skipped := false
		if f == GELF {
			e.buf, end, skipped, err = e.appendGELF(e.buf, chunk, &ev)
		} else {
			e.buf, end, err = e.appendRecord(e.buf, chunk, &ev)
		}
		if err != nil {
			return d.fail(err)
		}
		d.finish(&ev, end)
		if skipped {
			res.Skipped++
			e.buf = e.buf[:recStart]
			continue
		}
		if f == JSONLines || f == GELF {
			e.buf = append(e.buf, '\n')
		}
		if max > 0 {
			size := e.msgSize(msgStart)
			if size > max && inMsg > 0 {
				e.spans = append(e.spans, span{from: msgStart, to: recStart, inBuf: true})
				msgStart, inMsg = recStart, 0
				if f == JSON {
					// The ',' before the record becomes the closed
					// message's ']', and the next message is a '[' and a
					// copy of the record.
					e.buf[recStart-1] = ']'
					msgStart = len(e.buf)
					e.buf = append(e.buf, '[')
					e.buf = append(e.buf, e.buf[recStart:msgStart]...)
				}
				size = e.msgSize(msgStart)
			}
			if inMsg == 0 && size > max {
				res.Oversized++
				e.closeText(msgStart)
				open = false
				continue
			}
		}
		inMsg++
	}
	if open && inMsg > 0 {
		e.closeText(msgStart)
	}
	return nil
}

// msgSize is the size of the message started at msgStart once closed.
func (e *Encoder) msgSize(msgStart int) int {
	if e.opts.Format == JSON {
		return len(e.buf) - msgStart + 1
	}
	return len(e.buf) - msgStart
}

func (e *Encoder) closeText(msgStart int) {
	if e.opts.Format == JSON {
		e.buf = append(e.buf, ']')
	}
	e.spans = append(e.spans, span{from: msgStart, to: len(e.buf), inBuf: true})
}
