package cli

import (
	"fmt"

	"github.com/stack-web/stack/edge"
)

// announceTLS says where the edge serves HTTPS, after announce's plain
// addresses. The CA to trust for tls: internal is logged by the edge.
func (c *cmdEnv) announceTLS(e *edge.Edge) {
	if e == nil {
		return
	}
	for _, a := range e.TLSAddrs() {
		fmt.Fprintf(c.stderr, "stack: edge serving HTTPS at https://%s/ (HTTP/2 and HTTP/1.1)\n", a)
	}
}
