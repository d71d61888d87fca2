// Command stack runs the three-tier web stack (edge → uwsgi → appserver →
// app) with the apps built into it: hello, echo and polls.
package main

import (
	"github.com/stack-web/stack/cli"
	// A SIGHUP from the first packages' initialisation on is held for
	// cli.Main (a reload right after a start), not Go's default exit.
	_ "github.com/stack-web/stack/internal/earlyhup/hold"
)

func main() {
	cli.Main(builtinApps()...)
}
