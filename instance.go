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
	metrics     metricsSink
	client      *client
	messageType int // websocket.BinaryMessage for msgpack, else TextMessage
	encoders    sync.Pool
}

func newInstance(cfg *config, log logger, metrics metricsSink) (*instance, error) {
	if _, err := encoder.New(cfg.Encoder); err != nil {
		return nil, err
	}
	in := &instance{cfg: cfg, log: log, metrics: metrics, client: newClient(cfg.Conn, log), messageType: websocket.TextMessage}
	in.client.metrics = metrics
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

	res, err := enc.Encode(chunk)
	if err != nil {
		// Fluent Bit drops a chunk on FLB_ERROR without a word.
		in.log.Errorf("dropping chunk of %d bytes with tag '%s': it cannot be decoded: %v", len(chunk), tag, err)
		return output.FLB_ERROR
	}
	if res.Skipped > 0 {
		in.log.Warnf("skipped %d of %d records with tag '%s': no '%s', 'log' or 'message' field for the GELF short_message",
			res.Skipped, res.Records, tag, in.cfg.Encoder.GELF.ShortMessage)
	}
	if res.Oversized > 0 {
		in.log.Warnf("%d records with tag '%s' are larger than max_message_size %d: each sent whole in a message of its own",
			res.Oversized, tag, in.cfg.Encoder.MaxMessageSize)
	}
	if len(res.Messages) == 0 {
		return output.FLB_OK
	}
	if err := in.client.Send(in.messageType, res.Messages); err != nil {
		// While the server is down the client said so once; a line per
		// flush would bury that.
		if errors.Is(err, errServerDown) {
			in.log.Debugf("chunk with tag '%s' not sent, Fluent Bit will retry it: %v", tag, err)
		} else {
			in.log.Warnf("chunk with tag '%s' not sent, Fluent Bit will retry it: %v", tag, err)
		}
		return output.FLB_RETRY
	}
	in.log.Debugf("sent %d records with tag '%s' in %d messages", res.Records, tag, len(res.Messages))
	return output.FLB_OK
}

// close ends the connections, then the metrics: Fluent Bit frees the
// instance's metrics context right after.
func (in *instance) close() {
	in.client.Close()
	in.metrics.Close()
}

// instanceSet holds the instances initialised and not closed yet.
type instanceSet struct {
	mu sync.Mutex
	m  map[*instance]struct{}
}

func (s *instanceSet) add(in *instance) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[*instance]struct{}{}
	}
	s.m[in] = struct{}{}
}

// close closes one instance and forgets it.
func (s *instanceSet) close(in *instance) {
	s.mu.Lock()
	delete(s.m, in)
	s.mu.Unlock()
	in.close()
}

// closeAll closes every instance still open.
func (s *instanceSet) closeAll() {
	s.mu.Lock()
	all := s.m
	s.m = nil
	s.mu.Unlock()
	for in := range all {
		in.close()
	}
}
