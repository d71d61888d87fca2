package edge

import (
	"net/http"

	"github.com/stack-web/stack/edge/compress"
	"github.com/stack-web/stack/edge/static"
)

// withCompression applies edge.compression to a location's handler: a
// static location serves precompressed files beside the originals, and
// every location's responses are compressed on the fly when gzip or zstd
// is on. A location with compression: false gets neither.
//
// The wrapper sits outside the proxy and the location's limits, so it sees
// the final response (after buffering, X-Accel-Buffering and
// X-Accel-Redirect, which are below it) and writes into the edge's
// clientWriter, whose byte count (the access log's) is then of the
// compressed body, as nginx's $body_bytes_sent.
func withCompression(h http.Handler, c compress.Config, lc LocationConfig) http.Handler {
	on := lc.Compression == nil || *lc.Compression
	if s, ok := innermost(h).(*static.Handler); ok {
		s.SetPrecompressed(on && c.Precompressed)
	}
	if !on || !c.Dynamic() {
		return h
	}
	// Its Unwrap lets the edge find what is inside (the proxy for
	// X-Accel-Redirect and metrics, the limits).
	return compress.New(c, h)
}

// validateCompression checks edge.compression.
func (c *Config) validateCompression(bad func(key, format string, args ...any)) {
	c.Compression.Validate(func(key, format string, args ...any) {
		bad("compression."+key, format, args...)
	})
}
