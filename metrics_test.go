package main

import (
	"fmt"
	"io"
	"testing"

	"github.com/gorilla/websocket"
)

// Every way a connection ends maps to one cause of
// fluentbit_websocket_connections_lost_total, or to none when the plugin
// closed it at exit.
func TestLossCause(t *testing.T) {
	tests := []struct {
		name  string
		err   error
		cause string
		lost  bool
	}{
		{"closed at exit", errClosedByUs, "", false},
		{"cut as Fluent Bit stops", errStopping, "", false},
		{"server close, reason quoted", serverCloseError{&websocket.CloseError{Code: websocket.ClosePolicyViolation, Text: "x"}}, lostServerClose, true},
		{"idle", errIdleReplaced, lostIdleReplaced, true},
		{"keepalive without pong", fmt.Errorf("%w within 1s (ping_timeout)", errNoPong), lostPingTimeout, true},
		{"confirmation without pong", fmt.Errorf("chunk written: %w", fmt.Errorf("%w within 1s: %w", errNoPong, io.ErrNoProgress)), lostPingTimeout, true},
		{"server going away", &websocket.CloseError{Code: websocket.CloseGoingAway}, lostServerClose, true},
		{"server 1011", fmt.Errorf("read: %w", &websocket.CloseError{Code: websocket.CloseInternalServerErr}), lostServerClose, true},
		{"no close frame", &websocket.CloseError{Code: websocket.CloseAbnormalClosure}, lostNetworkError, true},
		{"reset", io.ErrUnexpectedEOF, lostNetworkError, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if cause, lost := lossCause(tt.err); cause != tt.cause || lost != tt.lost {
				t.Errorf("lossCause(%v) = %q, %v; want %q, %v", tt.err, cause, lost, tt.cause, tt.lost)
			}
		})
	}
}

// Labelled histograms reach Fluent Bit's endpoint intact from cmetrics 0.7.3.
func TestCmtHistogramsIntact(t *testing.T) {
	for v, want := range map[string]bool{
		"0.6.1": false, "0.6.6": false, "0.7.1": false, "0.7.3": true, "0.9.9": true,
		"1.0.5": true, "2.2.1": true, "": false, "x": false,
	} {
		if got := cmtHistogramsIntact(v); got != want {
			t.Errorf("cmtHistogramsIntact(%q) = %v, want %v", v, got, want)
		}
	}
}
