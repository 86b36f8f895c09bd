package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/out-websocket/out_websocket/encoder"
	"github.com/out-websocket/out_websocket/internal/chunktest"
)

// stream is the input of every run: a few chunks, sent repeat times.
type stream struct {
	chunks  [][]byte // whole records, each chunk at most chunkSize bytes
	records int64    // in one pass over chunks
	bytes   int64    // in one pass over chunks
	file    string   // the chunks framed for flbhost -I
}

// makeStream builds count chunks of whole SampleChunk records, each as
// close to size bytes as the records allow. Chunk i comes from seed i+1, so
// every run of the benchmark sends the same bytes.
func makeStream(count, size int, file string) (*stream, error) {
	st := &stream{file: file}
	perChunk := size/350 + 1 // records average about 400 bytes: enough to fill size
	for i := 0; i < count; i++ {
		chunk, n, err := cut(chunktest.SampleChunk(perChunk, int64(i+1)), size)
		if err != nil {
			return nil, err
		}
		st.chunks = append(st.chunks, chunk)
		st.records += int64(n)
		st.bytes += int64(len(chunk))
	}
	return st, st.write()
}

// cut returns the longest prefix of chunk made of whole records and at most
// size bytes, and how many records it holds.
func cut(chunk []byte, size int) ([]byte, int, error) {
	d := encoder.NewDecoder(chunk)
	end, n := 0, 0
	for {
		ev, err := d.Next()
		if err == io.EOF {
			return nil, 0, fmt.Errorf("%d records of SampleChunk make less than %d bytes", n, size)
		}
		if err != nil {
			return nil, 0, err
		}
		next := ev.Offset + len(ev.Raw)
		if next > size {
			if n == 0 {
				return nil, 0, errors.New("chunk size is smaller than one record")
			}
			return chunk[:end:end], n, nil
		}
		end = next
		n++
	}
}

// write writes the chunks to st.file framed for flbhost -I.
func (st *stream) write() error {
	return os.WriteFile(st.file, chunktest.Frame(st.chunks...), 0o644)
}

// unframe splits a file framed for flbhost -I back into its chunks.
func unframe(data []byte) ([][]byte, error) {
	var chunks [][]byte
	for len(data) > 0 {
		if len(data) < 4 {
			return nil, errors.New("framed chunk file: a length cut short")
		}
		n := int(binary.BigEndian.Uint32(data))
		if n > len(data)-4 {
			return nil, fmt.Errorf("framed chunk file: a chunk of %d bytes, %d left", n, len(data)-4)
		}
		chunks = append(chunks, data[4:4+n])
		data = data[4+n:]
	}
	return chunks, nil
}
