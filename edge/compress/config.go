// Package compress is the edge's response compression: gzip and zstd
// (github.com/klauspost/compress) negotiated by Accept-Encoding, as nginx's
// gzip module and Caddy's encode directive do it. Handler wraps a
// location's handler and compresses what it answers; Negotiate is also
// used by the static handler to pick a precompressed file.
package compress

import (
	"fmt"
	"mime"
	"strings"
)

// Config is edge.compression.
type Config struct {
	// Gzip and Zstd turn on compressing responses on the fly with each
	// coding. Both are off by default, as in nginx (gzip off) and Caddy
	// (no encode unless configured).
	Gzip bool `yaml:"gzip"`
	Zstd bool `yaml:"zstd"`
	// MinLength is the smallest response compressed, in bytes (nginx's
	// gzip_min_length): a shorter one gains little and costs a round of
	// encoder state. A response without a Content-Length is held until
	// this many bytes have come (or the handler flushes) before deciding.
	MinLength int64 `yaml:"min_length"`
	// Types are the media types compressed: exact ("application/json")
	// or a whole top-level type ("text/*").
	Types []string `yaml:"types"`
	// Precompressed lets static locations answer with X.zst, X.br or X.gz
	// beside X when the client accepts the coding (nginx's gzip_static,
	// Caddy's precompressed); `stack collectstatic --compress` writes them.
	Precompressed bool `yaml:"precompressed"`
}

// maxMinLength bounds min_length, which is also how much of a response
// of unknown length is held in memory before deciding.
const maxMinLength = 1 << 20

// DefaultTypes are the types compressed unless edge.compression.types
// says otherwise: text and the text-like application types, as the
// defaults of Caddy's encode and the lists nginx users write.
var DefaultTypes = []string{
	"text/*",
	"application/json", "application/ld+json", "application/manifest+json",
	"application/javascript", "application/xml", "application/xhtml+xml",
	"application/rss+xml", "application/atom+xml", "application/wasm",
	"image/svg+xml", "image/x-icon", "font/ttf", "font/otf",
}

// DefaultConfig is compression off, precompressed files on.
func DefaultConfig() Config {
	return Config{MinLength: 256, Types: DefaultTypes, Precompressed: true}
}

// Dynamic reports whether any coding is produced on the fly.
func (c Config) Dynamic() bool { return c.Gzip || c.Zstd }

// Validate reports each problem through bad with the key below
// edge.compression ("min_length", "types[2]").
func (c Config) Validate(bad func(key, format string, args ...any)) {
	if c.MinLength < 0 || c.MinLength > maxMinLength {
		bad("min_length", "%d is not between 0 and %d bytes (default 256): a response without a Content-Length is held in memory up to this length", c.MinLength, maxMinLength)
	}
	if c.Dynamic() && len(c.Types) == 0 {
		bad("types", "is empty while gzip or zstd is on; list media types such as [text/*, application/json]")
	}
	for i, t := range c.Types {
		if err := checkType(t); err != nil {
			bad(fmt.Sprintf("types[%d]", i), "%v", err)
		}
	}
}

func checkType(t string) error {
	if t == "*/*" || t == "*" {
		return fmt.Errorf("%q would compress images and archives that are compressed already; list the types", t)
	}
	if strings.ContainsAny(t, "; ") {
		return fmt.Errorf("%q has parameters or spaces; give the media type alone, e.g. text/html", t)
	}
	if top, ok := strings.CutSuffix(t, "/*"); ok {
		if top == "" || strings.ContainsAny(top, "/*") {
			return fmt.Errorf("%q is not a type such as text/*", t)
		}
		return nil
	}
	if mt, _, err := mime.ParseMediaType(t); err != nil || mt != strings.ToLower(t) || !strings.Contains(t, "/") {
		return fmt.Errorf("%q is not a media type such as application/json", t)
	}
	return nil
}
