package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// Client sends chunks to one WebSocket endpoint. Concurrent sends each take
// a connection of their own, so frames of two flushes never interleave.
type Client struct {
	cfg    ConnConfig
	log    Logger
	dialer *websocket.Dialer

	mu   sync.Mutex
	idle []*websocket.Conn
}

// NewClient makes a client; it connects on the first Send.
func NewClient(cfg ConnConfig, log Logger) *Client {
	return &Client{
		cfg: cfg,
		log: log,
		dialer: &websocket.Dialer{
			Proxy:             cfg.Proxy,
			TLSClientConfig:   cfg.TLS,
			HandshakeTimeout:  cfg.ConnectTimeout,
			Subprotocols:      cfg.Subprotocols,
			EnableCompression: cfg.Compression,
		},
	}
}

// Send writes the messages of one chunk, in order, on one connection.
func (c *Client) Send(messages [][]byte, binary bool) error {
	conn, err := c.take()
	if err != nil {
		return err
	}
	typ := websocket.TextMessage
	if binary {
		typ = websocket.BinaryMessage
	}
	for _, m := range messages {
		conn.SetWriteDeadline(time.Now().Add(c.cfg.WriteTimeout))
		if err := conn.WriteMessage(typ, m); err != nil {
			conn.Close()
			return fmt.Errorf("write to %s: %w", c.cfg.URL, err)
		}
	}
	c.put(conn)
	return nil
}

func (c *Client) take() (*websocket.Conn, error) {
	c.mu.Lock()
	if n := len(c.idle); n > 0 {
		conn := c.idle[n-1]
		c.idle = c.idle[:n-1]
		c.mu.Unlock()
		return conn, nil
	}
	c.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.ConnectTimeout)
	defer cancel()
	conn, resp, err := c.dialer.DialContext(ctx, c.cfg.URL, c.cfg.Header)
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("handshake with %s: HTTP %s", c.cfg.URL, resp.Status)
		}
		return nil, fmt.Errorf("connect to %s: %w", c.cfg.URL, err)
	}
	return conn, nil
}

func (c *Client) put(conn *websocket.Conn) {
	c.mu.Lock()
	c.idle = append(c.idle, conn)
	c.mu.Unlock()
}

// Close closes every idle connection with a normal closure.
func (c *Client) Close() {
	c.mu.Lock()
	idle := c.idle
	c.idle = nil
	c.mu.Unlock()
	for _, conn := range idle {
		msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "")
		conn.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second))
		conn.Close()
	}
}
