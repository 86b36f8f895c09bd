// nethost.go reads Fluent Bit's struct flb_net_host, where the core keeps
// Host and Port: its layout, and finding it in the instance at run time.

package main

import (
	"encoding/binary"
	"fmt"
)

// Offsets inside Fluent Bit's struct flb_net_host {int ipv6; flb_sds_t
// address; int port; flb_sds_t name; flb_sds_t listen; struct flb_uri *uri;},
// counted from its port field, the one place a port number lands.
const (
	hostNameAfterPort = 8
	hostURIAfterPort  = 24
)

// locateHostField finds where flb_output_net_default wrote port into a
// zeroed scratch block, and checks that it wrote nothing else than that
// port and, 8 bytes after it, the host name pointer. Anything else means
// the layout is not the one this plugin knows, and nothing is read.
func locateHostField(block []byte, port int) (int, error) {
	found := -1
	for off := 0; off+hostNameAfterPort+8 <= len(block); off += 8 {
		if int(binary.NativeEndian.Uint32(block[off:])) != port {
			continue
		}
		if found >= 0 {
			return 0, fmt.Errorf("port %d written twice, at %d and %d", port, found, off)
		}
		found = off
	}
	if found < 0 {
		return 0, fmt.Errorf("flb_output_net_default wrote no port %d", port)
	}
	if binary.NativeEndian.Uint64(block[found+hostNameAfterPort:]) == 0 {
		return 0, fmt.Errorf("flb_output_net_default wrote no host name 8 bytes after the port")
	}
	for i, b := range block {
		inPort := i >= found && i < found+4
		inName := i >= found+hostNameAfterPort && i < found+hostNameAfterPort+8
		if b != 0 && !inPort && !inName {
			return 0, fmt.Errorf("flb_output_net_default wrote byte %d, outside the host field", i)
		}
	}
	return found, nil
}
