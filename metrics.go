package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/gorilla/websocket"
)

// instanceMetrics are the metrics of one output instance: in Fluent Bit its
// cmetrics (cmtMetrics), else none.
type instanceMetrics interface {
	// Node is the sink of one endpoint's connections, labelled with it.
	Node(label string) metricsSink
	// Close: the output is going away; nothing reaches Fluent Bit after it.
	Close()
}

// metricsSink counts what happens to one endpoint's connections and
// chunks. Its methods are called from any goroutine.
type metricsSink interface {
	// Handshake: a connection was opened (TCP, TLS, handshake all done).
	Handshake()
	// ConnectFailed: an attempt to open a connection failed.
	ConnectFailed()
	// Ended: a connection that Handshake counted is gone, for cause.
	Ended(cause error)
	// Sent: messages of payload bytes were written to a connection.
	Sent(messages, bytes int)
	// TokenFetched: an OAuth2 access token came from the token endpoint.
	TokenFetched()
	// TokenFetchFailed: a request to the token endpoint gave no token.
	TokenFetchFailed()
	// Confirmed: the server acknowledged a chunk (the pong after it) rtt
	// after the ping was sent.
	Confirmed(rtt time.Duration)
}

// Why a connection was lost, as the label `cause` of
// fluentbit_websocket_connections_lost_total.
const (
	lostServerClose  = "server_close"
	lostNetworkError = "network_error"
	lostPingTimeout  = "ping_timeout"
	lostIdleReplaced = "idle_replaced"
	lostTokenRenewal = "token_renewal"
)

// lostCauses are every value lossCause returns, in the order the series
// are registered.
var lostCauses = []string{lostServerClose, lostNetworkError, lostPingTimeout, lostIdleReplaced, lostTokenRenewal}

var (
	// errIdleReplaced is the end of a connection closed by the plugin
	// because it sat idle longer than idle_interval.
	errIdleReplaced = errors.New("idle longer than idle_interval: replaced")
	// errTokenRenewal is the end of a connection closed by the plugin
	// because the OAuth2 token it was opened with is due for renewal, before
	// the server may cut it for an expired token.
	errTokenRenewal = errors.New("opened with an OAuth2 token due for renewal: replaced")
	// errNoPong is a ping that got no pong in time.
	errNoPong = errors.New("no pong")
)

// lossCause classifies why a connection ended; lost is false for one the
// plugin closed on purpose at exit, or cut because Fluent Bit stops.
func lossCause(err error) (cause string, lost bool) {
	var ce *websocket.CloseError
	switch {
	case errors.Is(err, errClosedByUs) || errors.Is(err, errStopping):
		return "", false
	case errors.Is(err, errIdleReplaced):
		return lostIdleReplaced, true
	case errors.Is(err, errTokenRenewal):
		return lostTokenRenewal, true
	case errors.Is(err, errNoPong):
		return lostPingTimeout, true
	// 1006 is gorilla's word for a connection that ended without a close frame.
	case errors.As(err, &ce) && ce.Code != websocket.CloseAbnormalClosure:
		return lostServerClose, true
	}
	return lostNetworkError, true
}

// cmtHistogramsIntact tells whether cmetrics of that version copies a
// labelled histogram into Fluent Bit's metrics endpoint intact. Before
// 0.7.3 (Fluent Bit 2.0 to 3.0.1) its cmt_cat.c copies only as many buckets
// as there were observations and adds a series labelled with the label
// names: the endpoint shows garbage.
func cmtHistogramsIntact(version string) bool {
	var major, minor, patch int
	if _, err := fmt.Sscanf(version, "%d.%d.%d", &major, &minor, &patch); err != nil {
		return false
	}
	return major > 0 || minor > 7 || (minor == 7 && patch >= 3)
}

// noMetrics is for a Fluent Bit without cmetrics.
type noMetrics struct{}

func (noMetrics) Handshake()              {}
func (noMetrics) ConnectFailed()          {}
func (noMetrics) Ended(error)             {}
func (noMetrics) Sent(int, int)           {}
func (noMetrics) Confirmed(time.Duration) {}
func (noMetrics) TokenFetched()           {}
func (noMetrics) TokenFetchFailed()       {}
func (noMetrics) Node(string) metricsSink { return noMetrics{} }
func (noMetrics) Close()                  {}
