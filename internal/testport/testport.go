// Package testport hands tests a loopback TCP port for programs that
// must be told their port in advance (nginx, or stack's admin listener
// set by flag) instead of reporting the one the kernel picked.
//
// A port taken by listening on :0 and closing comes from the kernel's
// ephemeral range, the same range it draws from for every outgoing
// connection. Between the close and the program's bind, any connection a
// parallel test opens may take that port as its local one, and the bind
// fails with "address already in use". Ports below the ephemeral range
// are never handed out that way, so only another listener can race for
// them; this package draws from there and never hands out a port twice
// in one test binary.
package testport

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
)

// lowest is the bottom of the range drawn from; its top is the bottom of
// the kernel's ephemeral range.
const lowest = 10000

var (
	mu    sync.Mutex
	given = map[int]bool{}
)

// Free returns a loopback port that nothing listened on a moment ago and
// that no outgoing connection will take as its local port.
func Free() (int, error) {
	top := ephemeralLow()
	mu.Lock()
	defer mu.Unlock()
	for range 1000 {
		port := lowest + rand.IntN(top-lowest)
		if given[port] {
			continue
		}
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			continue
		}
		l.Close()
		given[port] = true
		return port, nil
	}
	return 0, fmt.Errorf("testport: no free port in [%d, %d)", lowest, top)
}

// ephemeralLow reads the bottom of the kernel's ephemeral port range,
// 32768 (Linux's default) when it cannot.
func ephemeralLow() int {
	const fallback = 32768
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return fallback
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return fallback
	}
	n, err := strconv.Atoi(f[0])
	if err != nil || n <= lowest+1000 {
		return fallback
	}
	return n
}
