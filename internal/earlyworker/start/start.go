// Package start, imported for its side effect (import _), starts the
// appserver's first worker process from its initialisation, for `stack up`
// and `stack appserver`: see package earlyworker. It imports package
// launch only, whose dependencies are package os's, so that it is
// initialised right after os (~1.3 ms from exec; 2.6-3.2 ms when it
// imported earlyworker, whose fmt and strconv wait for every ready
// package whose path sorts before theirs: Go initialises the ready
// packages in import-path order), before prometheus, protobuf and
// SQLite's libc.
package start

import (
	"os"

	"github.com/stack-web/stack/internal/earlyworker/launch"
)

func init() { launch.Start(os.Args, "up", "appserver") }
