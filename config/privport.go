package config

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// checkPrivilegedPort says whether this process may bind port: below
// net.ipv4.ip_unprivileged_port_start (1024 unless lowered) only with
// CAP_NET_BIND_SERVICE, which root has. Binding the port itself would
// answer too, but could not tell "not allowed" from "in use by the stack
// that is running now".
func checkPrivilegedPort(addr, port string) error {
	n, err := strconv.Atoi(port)
	if err != nil || n == 0 || n >= unprivilegedPortStart() || hasCapNetBindService() {
		return nil
	}
	return fmt.Errorf("%q: port %d is privileged (below %d) and this user (uid %d) may not bind it; use a port from %d, or grant the binary CAP_NET_BIND_SERVICE",
		addr, n, unprivilegedPortStart(), os.Geteuid(), unprivilegedPortStart())
}

func unprivilegedPortStart() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_unprivileged_port_start")
	if err != nil {
		return 1024
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 1024
	}
	return n
}

// capNetBindService is CAP_NET_BIND_SERVICE's bit in /proc/self/status.
const capNetBindService = 10

func hasCapNetBindService() bool {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return true // cannot tell: let the bind decide
	}
	for _, line := range strings.Split(string(b), "\n") {
		if hex, ok := strings.CutPrefix(line, "CapEff:"); ok {
			caps, err := strconv.ParseUint(strings.TrimSpace(hex), 16, 64)
			return err != nil || caps&(1<<capNetBindService) != 0
		}
	}
	return true
}
