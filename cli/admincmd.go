package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/stack-web/stack/admin"
	"github.com/stack-web/stack/cli/internal/control"
	"github.com/stack-web/stack/config"
)

// controlCommands are `stack status`, `stack reload` and `stack top`
// (cli/internal/control).
func (c *cmdEnv) controlCommands() []*cobra.Command {
	e := &control.Env{Stdout: c.stdout, Terminal: func() bool { return isTerminal(c.stdout, false) }, Socket: c.controlSocket}
	return []*cobra.Command{control.StatusCommand(e), control.ReloadCommand(e), control.TopCommand(e)}
}

// controlSocket finds the socket: --socket, else admin.socket of the
// configuration (the same --config, STACK_* and --set as the stack's).
func (c *cmdEnv) controlSocket(socket string) (string, error) {
	if socket != "" {
		return socket, nil
	}
	f, err := c.loadFor("app")
	if err != nil {
		// The file may have been broken since the stack started (a
		// reload is how one finds out): the default socket still
		// answers, with the reason.
		def := filepath.Join(config.Default().RunDir, "admin.sock")
		if _, serr := os.Stat(def); serr != nil {
			return "", fmt.Errorf("finding the control socket: %w (or give --socket)", err)
		}
		f = &config.File{Admin: admin.Config{Socket: def}}
	}
	if f.Admin.Socket == "" {
		return "", errors.New("admin.socket is \"\": the control socket is off in this configuration")
	}
	return f.Admin.Socket, nil
}
