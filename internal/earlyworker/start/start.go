// Package start, imported for its side effect (import _), starts the
// appserver's first worker process from its initialisation, for `stack up`
// and `stack appserver`: see package earlyworker. It imports little, so
// that it is initialised before prometheus, protobuf and SQLite's libc;
// Go initialises the packages that are ready in import-path order, so the
// standard library's (crypto, compress and the like, ~6 ms) come first.
package start

import (
	"os"

	"github.com/stack-web/stack/internal/earlyworker"
)

func init() { earlyworker.Start(os.Args, "up", "appserver") }
