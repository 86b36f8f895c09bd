package main

import (
	"crypto/tls"
	"errors"
	"net"
	"syscall"
	"unsafe"
)

// siocoutq is Linux's SIOCOUTQ (= TIOCOUTQ): for TCP, the bytes written
// that the peer has not acknowledged yet, sent or not.
const siocoutq = 0x5411

// tcpClose is the state of a TCP socket that was reset or aborted.
const tcpClose = 7

// unacked returns how many bytes written to c its peer's TCP has not
// acknowledged, and whether the connection was reset (those bytes will
// never be). It fails with errors.ErrUnsupported for a connection that is
// not TCP underneath.
func unacked(c net.Conn) (n int, reset bool, err error) {
	if t, ok := c.(*tls.Conn); ok {
		c = t.NetConn()
	}
	sc, ok := c.(syscall.Conn)
	if !ok {
		return 0, false, errors.ErrUnsupported
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return 0, false, err
	}
	var outq int32
	var info syscall.TCPInfo
	size := uint32(syscall.SizeofTCPInfo)
	var errno syscall.Errno
	if err := rc.Control(func(fd uintptr) {
		if _, _, errno = syscall.Syscall(syscall.SYS_IOCTL, fd, siocoutq, uintptr(unsafe.Pointer(&outq))); errno != 0 {
			return
		}
		_, _, errno = syscall.Syscall6(syscall.SYS_GETSOCKOPT, fd, syscall.IPPROTO_TCP, syscall.TCP_INFO,
			uintptr(unsafe.Pointer(&info)), uintptr(unsafe.Pointer(&size)), 0)
	}); err != nil {
		return 0, false, err
	}
	if errno != 0 {
		return 0, false, errno
	}
	return int(outq), info.State == tcpClose, nil
}
