package edge

import (
	"net/http"
	"strings"
)

// "Upgrade: h2c" asks to switch an HTTP/1.1 connection to cleartext
// HTTP/2 (RFC 7540 3.2; RFC 9113 withdrew it). Proxied as a WebSocket
// upgrade is, an upstream that accepts it (Go's h2c handler, among
// others) would turn the client's connection into a tunnel to its HTTP/2
// server, and every request sent in it after would skip the edge: its
// locations (internal ones included), limits, X-Forwarded-For and log
// ("h2c smuggling"). The edge never asks for that switch: the token is
// dropped, with HTTP2-Settings, and the request is served as a plain one
// (a server may ignore an upgrade, RFC 9110 7.8).

// dropH2CUpgrade removes an h2c upgrade from r's header, in place.
func dropH2CUpgrade(r *http.Request) {
	ups, ok := r.Header["Upgrade"]
	if !ok {
		return
	}
	for _, v := range ups {
		for tok := range strings.SplitSeq(v, ",") {
			proto, _, _ := strings.Cut(strings.TrimSpace(tok), "/")
			if strings.EqualFold(strings.TrimSpace(proto), "h2c") {
				delete(r.Header, "Upgrade")
				delete(r.Header, "Http2-Settings")
				return
			}
		}
	}
}
