// Command stack runs the three-tier web stack (edge → uwsgi → appserver →
// app) with the apps built into it: hello, echo and polls.
package main

import "github.com/stack-web/stack/cli"

func main() {
	cli.Main(builtinApps()...)
}
