package main

import (
	"context"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// ceilingWriteBuffer is the frame size of the ceiling client: the plugin's
// own (64 KiB), so both put the same frames on the wire.
const ceilingWriteBuffer = 64 << 10

// sendCeiling writes the chunks, repeat times over, as BINARY messages from
// plain gorilla clients to url: what the plugin's msgpack path would cost
// with nothing of the plugin or the host in the way. conns connections
// share the chunks like the host's workers share flushes.
func sendCeiling(ctx context.Context, url string, chunks [][]byte, repeat, conns int, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	dialer := websocket.Dialer{HandshakeTimeout: 10 * time.Second, WriteBufferSize: ceilingWriteBuffer}
	var wss []*websocket.Conn
	defer func() {
		for _, ws := range wss {
			ws.Close()
		}
	}()
	for range conns {
		ws, _, err := dialer.DialContext(ctx, url, nil)
		if err != nil {
			return err
		}
		wss = append(wss, ws)
	}

	deadline, _ := ctx.Deadline()
	work := make(chan []byte)
	errs := make(chan error, conns)
	var wg sync.WaitGroup
	for _, ws := range wss {
		wg.Go(func() {
			ws.SetWriteDeadline(deadline)
			for chunk := range work {
				if err := ws.WriteMessage(websocket.BinaryMessage, chunk); err != nil {
					errs <- err
					for range work { // let the feeder finish
					}
					return
				}
			}
			errs <- closeAndWait(ws, deadline)
		})
	}
feed:
	for range repeat {
		for _, c := range chunks {
			select {
			case work <- c:
			case <-ctx.Done():
				break feed
			}
		}
	}
	close(work)
	wg.Wait()
	close(errs)
	if err := ctx.Err(); err != nil {
		return err
	}
	for err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// closeAndWait sends a close frame and waits for the server's: once it
// comes, the server has read every message, and closing the socket cannot
// reset a connection that still holds unread data.
func closeAndWait(ws *websocket.Conn, deadline time.Time) error {
	msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "")
	if err := ws.WriteControl(websocket.CloseMessage, msg, deadline); err != nil {
		return err
	}
	ws.SetReadDeadline(deadline)
	for {
		if _, _, err := ws.NextReader(); err != nil {
			if websocket.IsCloseError(err, websocket.CloseNormalClosure) {
				return nil
			}
			return err
		}
	}
}
