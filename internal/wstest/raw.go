package wstest

import (
	"bufio"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// Frame is one WebSocket frame as it was on the wire.
type Frame struct {
	Fin     bool
	RSV1    bool // compressed (permessage-deflate)
	Opcode  byte
	Masked  bool
	Key     [4]byte
	Payload []byte // unmasked
}

// ReadFrame reads one frame the way RFC 6455 5.2 lays it out.
func ReadFrame(r io.Reader) (Frame, error) {
	var f Frame
	var h [2]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return f, err
	}
	f.Fin, f.RSV1, f.Opcode, f.Masked = h[0]&0x80 != 0, h[0]&0x40 != 0, h[0]&0x0f, h[1]&0x80 != 0
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var b [2]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return f, err
		}
		n = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return f, err
		}
		n = binary.BigEndian.Uint64(b[:])
	}
	if f.Masked {
		if _, err := io.ReadFull(r, f.Key[:]); err != nil {
			return f, err
		}
	}
	if n > 1<<24 {
		return f, fmt.Errorf("frame of %d bytes", n)
	}
	f.Payload = make([]byte, n)
	if _, err := io.ReadFull(r, f.Payload); err != nil {
		return f, err
	}
	unmask(f.Payload, f.Key)
	return f, nil
}

// unmask XORs p with the key, eight bytes at a time where it can: the
// tests read megabytes, often under the race detector.
func unmask(p []byte, key [4]byte) {
	k := uint64(binary.LittleEndian.Uint32(key[:]))
	k |= k << 32
	i := 0
	for ; i+8 <= len(p); i += 8 {
		binary.LittleEndian.PutUint64(p[i:], binary.LittleEndian.Uint64(p[i:])^k)
	}
	for ; i < len(p); i++ {
		p[i] ^= key[i%4]
	}
}

// AcceptKey is Sec-WebSocket-Accept for a Sec-WebSocket-Key (RFC 6455 4.2.2).
func AcceptKey(key string) string {
	h := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(h[:])
}

// RawServer accepts TCP connections on loopback and hands each to handle
// with the connection's reader, for tests that speak the protocol by hand;
// it returns the server's ws:// URL. Every connection has Timeout to live.
func RawServer(t testing.TB, handle func(c net.Conn, br *bufio.Reader)) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			c.SetDeadline(time.Now().Add(Timeout))
			wg.Go(func() {
				defer c.Close()
				handle(c, bufio.NewReader(c))
			})
		}
	})
	return "ws://" + ln.Addr().String() + "/"
}

// UpgradeByHand reads the client's handshake and answers it with accept
// (a function of the client's key) and extra header lines, returning the
// request.
func UpgradeByHand(c net.Conn, br *bufio.Reader, accept func(key string) string, extra ...string) (*http.Request, error) {
	req, err := http.ReadRequest(br)
	if err != nil {
		return nil, err
	}
	resp := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	for _, h := range append([]string{"Sec-WebSocket-Accept: " + accept(req.Header.Get("Sec-WebSocket-Key"))}, extra...) {
		resp += h + "\r\n"
	}
	_, err = io.WriteString(c, resp+"\r\n")
	return req, err
}

// AnswerPing answers f with a pong if it is a ping, as every server must
// (RFC 6455 5.5.2), and as the plugin's confirm_delivery waits for.
func AnswerPing(w io.Writer, f Frame) {
	if f.Opcode == websocket.PingMessage {
		WriteServerFrame(w, websocket.PongMessage, f.Payload)
	}
}

// ReadDataFrame reads the next frame that is neither a ping, which it
// answers on w, nor a close, which it returns as io.EOF.
func ReadDataFrame(w io.Writer, br *bufio.Reader) (Frame, error) {
	for {
		f, err := ReadFrame(br)
		switch {
		case err != nil:
			return f, err
		case f.Opcode == websocket.CloseMessage:
			return f, io.EOF
		case f.Opcode == websocket.PingMessage:
			AnswerPing(w, f)
		default:
			return f, nil
		}
	}
}

// DiscardFrames reads frames, answering pings, until the client closes.
func DiscardFrames(c io.Writer, br *bufio.Reader) {
	for {
		if _, err := ReadDataFrame(c, br); err != nil {
			return
		}
	}
}

// WriteServerFrame writes an unmasked frame, as a server does, with a
// payload of at most 125 bytes.
func WriteServerFrame(w io.Writer, opcode byte, payload []byte) error {
	_, err := w.Write(append([]byte{0x80 | opcode, byte(len(payload))}, payload...))
	return err
}
