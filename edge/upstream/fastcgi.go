// The keys and construction of protocol: fastcgi upstreams; the transport
// is transport.FastCGITransport.
package upstream

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/stack-web/stack/edge/upstream/transport"
)

// DefaultSplitPathInfo is Debian's snippets/fastcgi-php.conf's split: the
// first ".php" followed by a slash or the end ends the script name.
const DefaultSplitPathInfo = `^(.+?\.php)(/.*)$`

// validateFastCGI checks the keys of protocol: fastcgi.
func (c Config) validateFastCGI(key string) []error {
	var errs []error
	bad := func(k, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s.%s: %s", key, k, fmt.Sprintf(format, args...)))
	}
	if c.Protocol != "fastcgi" {
		if c.Root != "" {
			bad("root", "applies to protocol: fastcgi only")
		}
		if c.ScriptFilename != "" {
			bad("script_filename", "applies to protocol: fastcgi only")
		}
	}
	if c.Root != "" && !filepath.IsAbs(c.Root) {
		bad("root", "%q is not an absolute path (it is a path on the FastCGI server, sent as DOCUMENT_ROOT)", c.Root)
	}
	if c.ScriptFilename != "" && !filepath.IsAbs(c.ScriptFilename) {
		bad("script_filename", "%q is not an absolute path", c.ScriptFilename)
	}
	if strings.Contains(c.Index, "/") {
		bad("index", "%q must be a file name, without /", c.Index)
	}
	if c.SplitPathInfo != "" {
		re, err := regexp.Compile(c.SplitPathInfo)
		if err != nil {
			bad("split_path_info", "%q is not a regular expression: %v", c.SplitPathInfo, err)
		} else if re.NumSubexp() != 2 {
			bad("split_path_info", "%q has %d groups; it needs two, the script name and PATH_INFO, e.g. %s", c.SplitPathInfo, re.NumSubexp(), DefaultSplitPathInfo)
		}
	}
	return errs
}

// newFastCGITransport builds the transport of one server of a fastcgi
// upstream from a validated Config.
func newFastCGITransport(network, address string, cfg Config) (*transport.FastCGITransport, error) {
	t := &transport.FastCGITransport{Network: network, Address: address, ConnectTimeout: cfg.ConnectTimeout,
		ReadTimeout: cfg.ReadTimeout, SendTimeout: cfg.SendTimeout,
		Root: strings.TrimRight(cfg.Root, "/"), ScriptFilename: cfg.ScriptFilename, Index: cfg.Index,
		CheckScript: cfg.CheckScript && cfg.Root != ""} // root: / is Root "", and still checked
	if cfg.SplitPathInfo != "" {
		re, err := regexp.Compile(cfg.SplitPathInfo)
		if err != nil {
			return nil, fmt.Errorf("split_path_info: %w", err)
		}
		t.SplitPathInfo = re
	}
	return t, nil
}
