package wstest

import (
	"crypto/tls"
	"net/http"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestWSServer checks the server itself: what a client sends is kept, a
// graceful Stop loses nothing, and Start listens on the same port again.
func TestWSServer(t *testing.T) {
	ca := NewTestCA(t)
	for _, tc := range []struct {
		name string
		opts WSOptions
		tls  *tls.Config
	}{
		{"ws", WSOptions{}, nil},
		{"wss", WSOptions{TLS: ca.ServerTLS(t, "127.0.0.1")}, &tls.Config{RootCAs: ca.Pool}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := StartWSServer(t, tc.opts)
			d := &websocket.Dialer{TLSClientConfig: tc.tls, HandshakeTimeout: 5 * time.Second}
			send := func(msg string) {
				ws, _, err := d.Dial(s.URL(), http.Header{"X-Test": {msg}})
				if err != nil {
					t.Error(err)
					return
				}
				defer ws.Close()
				if err := ws.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
					t.Error(err)
					return
				}
				// Read until the server's close, which gorilla answers.
				ws.SetReadDeadline(time.Now().Add(5 * time.Second))
				for {
					if _, _, err := ws.ReadMessage(); err != nil {
						return
					}
				}
			}
			done := make(chan struct{})
			go func() { defer close(done); send("one") }()
			s.WaitMessages(1, 5*time.Second)
			s.Stop(websocket.CloseGoingAway)
			<-done
			port := s.addr
			s.Start()
			if s.addr != port {
				t.Fatalf("restarted on %s, want %s", s.addr, port)
			}
			done = make(chan struct{})
			go func() { defer close(done); send("two") }()
			msgs := s.WaitMessages(2, 5*time.Second)
			s.Stop(websocket.CloseNormalClosure)
			<-done
			if string(msgs[0].Data) != "one" || string(msgs[1].Data) != "two" || msgs[1].Conn != 2 {
				t.Fatalf("messages %+v, want one on conn 1 and two on conn 2", msgs)
			}
			if h := s.Headers(); len(h) != 2 || h[1].Get("X-Test") != "two" {
				t.Fatalf("headers %v", h)
			}
		})
	}
}
