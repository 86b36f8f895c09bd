package main

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// writeBufferSize is the largest frame a message is cut into. The buffers
// come from a pool, so idle connections hold none.
const writeBufferSize = 64 << 10

// bodyPreview is how much of a refused handshake's body goes into the log.
const bodyPreview = 256

// newDialer sets up the handshake gorilla does for us: a fresh random
// Sec-WebSocket-Key each time, Sec-WebSocket-Accept checked, every frame
// masked with a new key.
func newDialer(cfg connConfig) *websocket.Dialer {
	return &websocket.Dialer{
		Proxy:             cfg.Proxy,
		TLSClientConfig:   cfg.TLS,
		HandshakeTimeout:  cfg.ConnectTimeout,
		Subprotocols:      cfg.Subprotocols,
		EnableCompression: cfg.Compression,
		WriteBufferSize:   writeBufferSize,
		WriteBufferPool:   &sync.Pool{},
		NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			nc, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			lc := &limitedConn{Conn: &meteredConn{Conn: nc}}
			lc.left.Store(handshakeLimit)
			if report, ok := ctx.Value(netConnKey{}).(func(*limitedConn)); ok {
				report(lc)
			}
			return lc, nil
		},
	}
}

// handshakeLimit bounds what a server (or proxy) may send before the
// handshake is done: net/http reads response headers without a limit, so
// one that sends headers without end would grow memory until
// connect_timeout.
const handshakeLimit = 1 << 20

var errHandshakeTooLarge = fmt.Errorf("the server sent more than %d bytes without completing the handshake", handshakeLimit)

// limitedConn is a TCP connection that fails reads past handshakeLimit
// until unlimit is called, once the handshake is done.
type limitedConn struct {
	net.Conn              // a *meteredConn
	left     atomic.Int64 // bytes still allowed; -1 once unlimited
}

// metered is the connection's byte count.
func (c *limitedConn) metered() *meteredConn { return c.Conn.(*meteredConn) }

func (c *limitedConn) Read(p []byte) (int, error) {
	left := c.left.Load()
	if left < 0 {
		return c.Conn.Read(p)
	}
	if left == 0 {
		return 0, errHandshakeTooLarge
	}
	if int64(len(p)) > left {
		p = p[:left]
	}
	n, err := c.Conn.Read(p)
	c.left.Add(-int64(n))
	return n, err
}

func (c *limitedConn) unlimit() { c.left.Store(-1) }

// netConnKey carries, in a connect's context, the function told of each
// TCP connection the dial makes: gorilla heeds only the context's
// deadline, so a handshake is cut, when Fluent Bit stops, by closing them.
type netConnKey struct{}

// connect opens a new connection: the Authorization of changing
// credentials (an OAuth2 token fetched if need be), TCP (through the
// proxy, if any), TLS for wss://, and the WebSocket handshake, all within
// ConnectTimeout (a token fetch within its own oauth2.timeout), and cut
// when the flight is (Fluent Bit stopping). The flight follows the
// progress of each TCP connection it dials. A handshake refused with 401
// gets new credentials and one more try, when they can differ.
func (c *client) connect(fl *flight) (*conn, error) {
	stop := fl.ctx
	auth, err := c.authorize(stop)
	if err != nil {
		return nil, err
	}
	ws, resp, dialed, err := c.handshake(fl, auth)
	if resp != nil && resp.StatusCode == http.StatusUnauthorized && c.cfg.Auth != nil && c.cfg.Auth.refused(auth) {
		c.log.Debugf("handshake with %s refused with HTTP 401: trying once more with a new token", c.cfg.LogURL)
		if auth, err = c.authorize(stop); err != nil {
			return nil, err
		}
		ws, resp, dialed, err = c.handshake(fl, auth)
	}
	if err != nil {
		if stop.Err() != nil {
			return nil, fmt.Errorf("connect to %s: %w", c.cfg.LogURL, context.Cause(stop))
		}
		return nil, handshakeError(c.cfg, resp, err)
	}
	err = checkSubprotocol(c.cfg, ws.Subprotocol())
	if err == nil {
		err = checkExtensions(c.cfg, resp.Header)
	}
	if err != nil {
		msg := websocket.FormatCloseMessage(websocket.CloseProtocolError, "")
		ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second))
		ws.Close()
		return nil, fmt.Errorf("handshake with %s: %w", c.cfg.LogURL, err)
	}
	c.metrics.Handshake()
	cn := newConn(ws, c.cfg, c.log, c.metrics, auth.renewAt)
	cn.nc = dialed()
	if err := cn.answersPings(stop, c.cfg.PingTimeout); err != nil {
		return nil, err
	}
	return cn, nil
}

// authorize is the Authorization of the instance's changing credentials
// for one handshake; an empty one when it has none.
func (c *client) authorize(stop context.Context) (authorization, error) {
	if c.cfg.Auth == nil {
		return authorization{}, nil
	}
	auth, err := c.cfg.Auth.authorization(stop, c.log, c.metrics)
	if err != nil && stop.Err() != nil {
		return authorization{}, fmt.Errorf("connect to %s: %w", c.cfg.LogURL, context.Cause(stop))
	}
	if err != nil {
		return authorization{}, fmt.Errorf("connect to %s: %w", c.cfg.LogURL, err)
	}
	return auth, nil
}

// handshake dials and makes the WebSocket handshake, with auth's
// Authorization when it has one; the flight follows the progress of each
// TCP connection it dials. dialed lifts the handshake's read limit of the
// connections it made and gives the one the handshake went through.
func (c *client) handshake(fl *flight, auth authorization) (ws *websocket.Conn, resp *http.Response, dialed func() *meteredConn, err error) {
	stop := fl.ctx
	ctx, cancel := context.WithTimeout(stop, c.cfg.ConnectTimeout)
	defer cancel()
	var mu sync.Mutex
	var conns []*limitedConn
	ctx = context.WithValue(ctx, netConnKey{}, func(nc *limitedConn) {
		mu.Lock()
		defer mu.Unlock()
		conns = append(conns, nc)
		fl.track(nc.metered())
		if stop.Err() != nil {
			nc.Close()
		}
	})
	cut := context.AfterFunc(stop, func() {
		mu.Lock()
		defer mu.Unlock()
		for _, nc := range conns {
			nc.Close()
		}
	})
	header := c.cfg.Header
	if auth.header != "" {
		header = header.Clone()
		header.Set("Authorization", auth.header)
	}
	ws, resp, err = c.dialer.DialContext(ctx, c.cfg.URL, header)
	if !cut() && err == nil {
		ws.Close()
		err = context.Cause(stop)
	}
	return ws, resp, func() *meteredConn {
		mu.Lock()
		defer mu.Unlock()
		for _, nc := range conns {
			nc.unlimit()
		}
		if n := len(conns); n > 0 {
			return conns[n-1].metered()
		}
		return nil
	}, err
}

// checkSubprotocol holds the server to RFC 6455 4.1 (it may only pick a
// subprotocol we offered) and to subprotocol_required.
func checkSubprotocol(cfg connConfig, chosen string) error {
	switch {
	case chosen == "" && cfg.RequireSubprotocol:
		return fmt.Errorf("the server chose none of the subprotocols %s and subprotocol_required is on",
			strings.Join(cfg.Subprotocols, ", "))
	case chosen != "" && !slices.Contains(cfg.Subprotocols, chosen):
		return fmt.Errorf("the server chose subprotocol %q, which was not offered (subprotocols: %s)",
			chosen, strings.Join(cfg.Subprotocols, ", "))
	}
	return nil
}

// checkExtensions holds the server to RFC 6455 9.1: it may only use an
// extension the client offered (gorilla takes permessage-deflate even when
// it was not offered, and ignores unknown ones).
func checkExtensions(cfg connConfig, h http.Header) error {
	for _, v := range h.Values("Sec-WebSocket-Extensions") {
		for _, ext := range strings.Split(v, ",") {
			name, _, _ := strings.Cut(ext, ";")
			name = strings.TrimSpace(name)
			if name == "" || (cfg.Compression && strings.EqualFold(name, "permessage-deflate")) {
				continue
			}
			return fmt.Errorf("the server answered with extension %q, which the plugin did not offer: failing the connection (RFC 6455 9.1)", name)
		}
	}
	return nil
}

// handshakeError says why a connection could not be made, in words a user
// can act on: the HTTP status and the start of the body of a refusal, an
// authentication failure named as such, the TLS key to look at.
func handshakeError(cfg connConfig, resp *http.Response, err error) error {
	switch {
	case resp != nil && resp.StatusCode != http.StatusSwitchingProtocols:
		what := "refused"
		if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
			what = "refused: authentication failed (check http_user, http_passwd, bearer_token, their _file keys, oauth2.* and header)"
		}
		return fmt.Errorf("handshake with %s %s: HTTP %s%s", cfg.LogURL, what, resp.Status, preview(resp.Body))
	case errors.Is(err, websocket.ErrBadHandshake):
		return fmt.Errorf("handshake with %s failed: the server answered 101 but not with a valid WebSocket upgrade "+
			"(Sec-WebSocket-Accept, Upgrade or Connection header wrong): %w", cfg.LogURL, err)
	case resp != nil:
		return fmt.Errorf("handshake with %s failed: %w", cfg.LogURL, err)
	case errors.Is(err, context.DeadlineExceeded) || isTimeout(err):
		return fmt.Errorf("connect to %s: no answer within %v (connect_timeout): %w", cfg.LogURL, cfg.ConnectTimeout, err)
	}
	return fmt.Errorf("connect to %s: %w%s", cfg.LogURL, err, tlsHint(err))
}

// preview quotes the first bytes of a refusal's body.
func preview(body io.Reader) string {
	if body == nil {
		return ""
	}
	b, _ := io.ReadAll(io.LimitReader(body, bodyPreview+1))
	if len(b) == 0 {
		return ""
	}
	more := ""
	if len(b) > bodyPreview {
		b, more = b[:bodyPreview], "..."
	}
	return fmt.Sprintf(": body %q%s", strings.TrimSpace(string(b)), more)
}

// tlsHint names the key that fixes a TLS failure.
func tlsHint(err error) string {
	var unknown x509.UnknownAuthorityError
	var host x509.HostnameError
	var invalid x509.CertificateInvalidError
	var op *net.OpError
	switch {
	case errors.As(err, &unknown):
		return " (the server's certificate is not signed by a CA this system trusts: set ws_tls.ca_file)"
	case errors.As(err, &host):
		return " (the server's certificate is not for this host name: connect by a name it holds, or set ws_tls.vhost)"
	case errors.As(err, &invalid) && invalid.Reason == x509.Expired:
		return " (the server's certificate has expired or is not valid yet; check this machine's clock too)"
	case errors.As(err, &op) && op.Op == "remote error" && strings.Contains(op.Err.Error(), "certificate"):
		return " (the server wants a client certificate it trusts: check ws_tls.crt_file and ws_tls.key_file)"
	}
	return ""
}
