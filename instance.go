package main

import (
	"errors"
	"sync"

	"github.com/fluent/fluent-bit-go/output"
	"github.com/gorilla/websocket"
	"github.com/out-websocket/out_websocket/encoder"
)

// instance is one [OUTPUT] section using this plugin: its settings, its
// connections, and encoders for its concurrent flushes.
type instance struct {
	cfg         *config
	log         logger
	metrics     instanceMetrics
	nodes       *nodes
	messageType int // websocket.BinaryMessage for msgpack, else TextMessage
	encoders    sync.Pool
	closeLog    func()        // after close, lines go nowhere near the instance's worker
	reg         *registration // the registration it belongs to (lifecycle.go)
}

// newInstance makes an instance whose transfers stop ends.
func newInstance(cfg *config, log logger, metrics instanceMetrics, stop *stop) (*instance, error) {
	if _, err := encoder.New(cfg.Encoder); err != nil {
		return nil, err
	}
	in := &instance{cfg: cfg, log: log, metrics: metrics, nodes: newNodes(cfg.nodes(), log, metrics, stop), messageType: websocket.TextMessage}
	if cfg.Encoder.Format.Binary() {
		in.messageType = websocket.BinaryMessage
	}
	in.encoders.New = func() any {
		enc, _ := encoder.New(cfg.Encoder)
		return enc
	}
	return in, nil
}

// flush sends one chunk and tells Fluent Bit what became of it: OK once
// the client counts it sent (read by the server, with confirm_delivery),
// RETRY when the server may take it later, ERROR only for a chunk that can
// never be sent.
func (in *instance) flush(chunk []byte, tag string) int {
	enc := in.encoders.Get().(*encoder.Encoder)
	defer in.encoders.Put(enc)

	// Each message goes to the server in parts of a frame's size as it is
	// encoded, so a chunk takes the memory of a part, not of its whole
	// output, and each part is copied into the frame while still in cache.
	var res encoder.Result
	var decodeErr *encoder.DecodeError
	messages := 0
	err := in.nodes.Send(in.messageType, func(write func([]byte, bool) error) error {
		var err error
		messages = 0
		res, err = enc.EncodeParts(chunk, writeBufferSize, func(part []byte, last bool) error {
			if last {
				messages++
			}
			return write(part, last)
		})
		if errors.As(err, &decodeErr) {
			return nil // what came before it is sent all the same
		}
		return err
	})
	in.logDropped(res, tag)
	if err != nil {
		// The backoff says once that the server cannot be reached, and
		// the client once that Fluent Bit stops; a line per flush would
		// bury that.
		if quietFailure(err) {
			in.log.Debugf("chunk with tag '%s' not sent, Fluent Bit will retry it: %v", tag, err)
		} else {
			in.log.Warnf("chunk with tag '%s' not sent, Fluent Bit will retry it: %v", tag, err)
		}
		return output.FLB_RETRY
	}
	switch {
	case decodeErr != nil && messages == 0:
		// Fluent Bit drops a chunk on FLB_ERROR without a word.
		in.log.Errorf("dropping chunk of %d bytes with tag '%s': it cannot be decoded: %v", len(chunk), tag, decodeErr)
		return output.FLB_ERROR
	case decodeErr != nil:
		in.log.Errorf("chunk of %d bytes with tag '%s': sent its first %d records; the rest cannot be decoded and is dropped (event %d, problem at byte offset %d of %d: %v)",
			len(chunk), tag, res.Records, decodeErr.Record, decodeErr.Offset, len(chunk), decodeErr.Err)
		return output.FLB_ERROR
	}
	in.log.Debugf("sent %d records with tag '%s' in %d messages", res.Records, tag, messages)
	return output.FLB_OK
}

// logDropped says which records of a chunk were left out or sent alone.
func (in *instance) logDropped(res encoder.Result, tag string) {
	if res.Skipped > 0 {
		in.log.Warnf("skipped %d of %d records with tag '%s': no '%s', 'log' or 'message' field for the GELF short_message",
			res.Skipped, res.Records, tag, in.cfg.Encoder.GELF.ShortMessage)
	}
	if res.TooLarge > 0 {
		in.log.Errorf("dropped %d of %d records with tag '%s': each alone makes a message larger than message_size_limit %d",
			res.TooLarge, res.Records, tag, in.cfg.Encoder.MessageLimit)
	}
	if res.Oversized > 0 {
		in.log.Warnf("%d records with tag '%s' are larger than max_message_size %d: each sent whole in a message of its own",
			res.Oversized, tag, in.cfg.Encoder.MaxMessageSize)
	}
}

// close ends the connections, then the metrics: Fluent Bit frees the
// instance's metrics context right after.
func (in *instance) close() {
	in.nodes.Close()
	in.metrics.Close()
	if in.closeLog != nil {
		in.closeLog()
	}
}
