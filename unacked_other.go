//go:build !linux

package main

import (
	"errors"
	"net"
)

// unacked is known on Linux only; elsewhere a chunk counts as sent once
// written to the socket.
func unacked(net.Conn) (int, bool, error) { return 0, false, errors.ErrUnsupported }
