package main

import (
	"encoding/binary"
	"strings"
	"testing"
)

func TestLocateHostField(t *testing.T) {
	block := func(writes map[int]uint64) []byte {
		b := make([]byte, 4096)
		for off, v := range writes {
			binary.NativeEndian.PutUint64(b[off:], v)
		}
		return b
	}
	const port = 47913
	tests := []struct {
		name    string
		block   []byte
		want    int
		wantErr string
	}{
		{name: "as Fluent Bit 5.1.1 writes it", block: block(map[int]uint64{1000: port, 1008: 0x7f00deadbeef}), want: 1000},
		{name: "anywhere", block: block(map[int]uint64{16: port, 24: 0x7f00deadbeef}), want: 16},
		{name: "no port", block: block(map[int]uint64{24: 0x7f00deadbeef}), wantErr: "no port"},
		{name: "no name", block: block(map[int]uint64{16: port}), wantErr: "no host name"},
		{name: "port twice", block: block(map[int]uint64{16: port, 24: 1, 64: port}), wantErr: "twice"},
		{name: "other bytes written", block: block(map[int]uint64{16: port, 24: 1, 200: 5}), wantErr: "outside"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := locateHostField(tt.block, port)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %d, %v; want %d", got, err, tt.want)
			}
		})
	}
}
