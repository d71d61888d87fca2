package cli

import (
	"context"

	"github.com/stack-web/stack/cli/internal/procstune"
	"github.com/stack-web/stack/edge"
	"github.com/stack-web/stack/supervisor"
)

// tuneEdgeProcs sizes the scheduler of a process that runs the edge alone
// by how the app servers on this host answer it (cli/internal/procstune):
// half the CPUs in front of servers that close each connection (uWSGI),
// all of them in front of the stack's appserver. A process that also runs
// the appserver keeps all its CPUs: its edge talks to its own workers.
func (c *cmdEnv) tuneEdgeProcs(sup *supervisor.Supervisor, e *edge.Edge) {
	t := procstune.New(e.UpstreamCensus().Counts, c.logger.With("tier", "edge"))
	if t == nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	sup.Add(func() error { return t.Run(ctx) }, func(error) { cancel() })
}
