// Package hold, imported for its side effect (import _), holds SIGHUP,
// SIGINT and SIGTERM (a worker process ignores them) from its
// initialisation on: see package earlyhup. It imports nothing else, so
// that it is initialised among the first packages.
package hold

import "github.com/stack-web/stack/internal/earlyhup"

func init() { earlyhup.Hold() }
