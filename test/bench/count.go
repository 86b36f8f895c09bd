package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/out-websocket/out_websocket/encoder"
)

// counter counts the records in the messages of one connection. It keeps a
// decoder between messages so that counting allocates nothing.
type counter struct {
	format encoder.Format
	dec    encoder.Decoder
}

// count returns how many records one message holds, or an error when the
// message is not a well-formed payload of the counter's format. It must stay
// cheap: the server shares the machine with what it measures.
func (c *counter) count(msg []byte) (int, error) {
	switch c.format {
	case encoder.Msgpack:
		c.dec.Reset(msg)
		n := 0
		for {
			_, err := c.dec.Next()
			if err == io.EOF {
				return n, nil
			}
			if err != nil {
				return n, err
			}
			n++
		}
	case encoder.JSON:
		if len(msg) < 2 || msg[0] != '[' || msg[len(msg)-1] != ']' {
			return 0, errors.New("json message is not an array")
		}
		return countObjects(msg, 1)
	case encoder.JSONStream:
		return countObjects(msg, 0)
	case encoder.JSONLines, encoder.GELF:
		// One record per line, each line terminated.
		if len(msg) == 0 || msg[len(msg)-1] != '\n' {
			return 0, fmt.Errorf("%v message does not end with a newline", c.format)
		}
		return bytes.Count(msg, []byte{'\n'}), nil
	}
	return 0, fmt.Errorf("cannot count %v", c.format)
}

// countObjects counts the JSON objects that open at nesting depth depth of
// b, and checks that brackets balance and strings end. It is a scanner, not
// a validator: it skips string contents with IndexByte, which makes it fast
// enough to keep up with the plugin.
func countObjects(b []byte, depth int) (int, error) {
	n, d := 0, 0
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '"':
			end, ok := stringEnd(b, i+1)
			if !ok {
				return n, fmt.Errorf("unterminated string at byte %d", i)
			}
			i = end
		case '{':
			if d == depth {
				n++
			}
			d++
		case '[':
			d++
		case '}', ']':
			d--
			if d < 0 {
				return n, fmt.Errorf("unbalanced %q at byte %d", b[i], i)
			}
		}
	}
	if d != 0 {
		return n, fmt.Errorf("%d brackets left open at the end", d)
	}
	return n, nil
}

// stringEnd returns the index of the quote closing the JSON string whose
// contents start at i.
func stringEnd(b []byte, i int) (int, bool) {
	for {
		q := bytes.IndexByte(b[i:], '"')
		if q < 0 {
			return 0, false
		}
		q += i
		// The quote is escaped when an odd number of backslashes precede it.
		bs := 0
		for j := q - 1; j >= i && b[j] == '\\'; j-- {
			bs++
		}
		if bs%2 == 0 {
			return q, true
		}
		i = q + 1
	}
}
