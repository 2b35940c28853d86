//go:build !unix

package integration_test

import "net"

// reservePort finds a port of 127.0.0.1 that was free a moment ago; here,
// unlike on Unix, nothing keeps it free until it is used.
func reservePort() (port int, release func(), err error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, nil, err
	}
	port = l.Addr().(*net.TCPAddr).Port
	l.Close()
	return port, func() {}, nil
}
