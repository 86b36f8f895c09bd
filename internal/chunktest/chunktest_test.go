package chunktest

import (
	"bytes"
	"testing"
)

func TestBuilders(t *testing.T) {
	for _, tc := range []struct {
		name string
		got  []byte
		want []byte
	}{
		{"map32", Enc(M{"a", 1}), []byte{0xdf, 0, 0, 0, 1, 0xa1, 'a', 1}},
		{"array32", Enc(A{true}), []byte{0xdd, 0, 0, 0, 1, 0xc3}},
		{"time", Time(1, 2), []byte{0xd7, 0, 0, 0, 0, 1, 0, 0, 0, 2}},
		{"int32", Int32(-1), []byte{0xd2, 0xff, 0xff, 0xff, 0xff}},
		{"fixarray around M and Raw", Enc([]any{M{}, Raw{0xc0}}), []byte{0x92, 0xdf, 0, 0, 0, 0, 0xc0}},
		{"event", Event(Raw{1}, M{}, M{}), []byte{0xdd, 0, 0, 0, 2, 0xdd, 0, 0, 0, 2, 1, 0xdf, 0, 0, 0, 0, 0xdf, 0, 0, 0, 0}},
		{"legacy event", LegacyEvent(Raw{1}, M{}), []byte{0xdd, 0, 0, 0, 2, 1, 0xdf, 0, 0, 0, 0}},
		{"cat", Cat(Raw{1}, Raw{2, 3}), []byte{1, 2, 3}},
		{"frame", Frame([]byte{7}, nil, []byte{8, 9}), []byte{0, 0, 0, 1, 7, 0, 0, 0, 0, 0, 0, 0, 2, 8, 9}},
	} {
		if !bytes.Equal(tc.got, tc.want) {
			t.Errorf("%s: % x, want % x", tc.name, tc.got, tc.want)
		}
	}
}
