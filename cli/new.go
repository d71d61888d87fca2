package cli

import (
	"github.com/spf13/cobra"

	"github.com/stack-web/stack/cli/internal/scaffold"
)

// newCommand is `stack new` (cli/internal/scaffold).
func (c *cmdEnv) newCommand() *cobra.Command { return scaffold.Command(c.stdout, c.stderr) }
