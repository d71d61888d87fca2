package config

import (
	"fmt"
	"net"
)

// checkTLSListen checks edge.tls_listen on this machine as checkEdgePlaces
// checks edge.listen: a privileged port (443) without the capability, a
// host that is not this machine's, and an address that overlaps another
// one the edge binds (0.0.0.0:8443 and 127.0.0.1:8443). The same address
// written twice is edge.Validate's message.
func (f *File) checkTLSListen(bad func(key, format string, args ...any)) {
	for i, a := range f.Edge.TLSListen {
		key := fmt.Sprintf("edge.tls_listen[%d]", i)
		if _, _, err := net.SplitHostPort(a); err != nil {
			continue // edge.Validate says so
		}
		if err := CheckListenAddr(a); err != nil {
			bad(key, "%v", err)
		}
		for j, b := range f.Edge.Listen {
			if a != b && sameListenAddr(a, b) {
				bad(key, "%q collides with edge.listen[%d] %q; the second bind would fail", a, j, b)
			}
		}
		for j, b := range f.Edge.TLSListen[:i] {
			if a != b && sameListenAddr(a, b) {
				bad(key, "%q collides with edge.tls_listen[%d] %q; the second bind would fail", a, j, b)
			}
		}
	}
}
