//go:build unix

package integration_test

import (
	"fmt"
	"syscall"
)

// reservePort binds a TCP socket to a free port of 127.0.0.1 without
// listening on it, and returns the port and a func that closes the socket.
//
// While the socket is open the kernel gives the port to no other socket
// bound to port 0 (an httptest server, a browser, a program picking its
// own port), nor to an outgoing connection, so a port meant to stay closed
// stays closed and one meant for a server that starts later is still free
// when it does. The socket has SO_REUSEADDR, as has every server the tests
// start (Go's listeners, Caddy's included, redis-server, node, php-cgi,
// Python's HTTP servers, Prometheus): each binds and listens on the port
// beside it. Nothing listens on the socket itself, so until a server does,
// connections to the port are refused.
func reservePort() (port int, release func(), err error) {
	// ForkLock: no child started meanwhile may inherit the socket before
	// it is marked close-on-exec.
	syscall.ForkLock.RLock()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err == nil {
		syscall.CloseOnExec(fd)
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return 0, nil, fmt.Errorf("socket: %v", err)
	}
	release = func() { syscall.Close(fd) }
	if err := syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1); err != nil {
		release()
		return 0, nil, fmt.Errorf("SO_REUSEADDR: %v", err)
	}
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		release()
		return 0, nil, fmt.Errorf("bind: %v", err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		release()
		return 0, nil, fmt.Errorf("getsockname: %v", err)
	}
	return sa.(*syscall.SockaddrInet4).Port, release, nil
}
