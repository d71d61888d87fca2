package cli

import (
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/stack-web/stack/internal/earlyhup"
	"github.com/stack-web/stack/supervisor"
)

// startHangups keeps a SIGHUP that comes while the stack starts from
// killing it: until the supervisor handles signals, Go's default for
// SIGHUP is to exit, and `up` starts with its release (a migration can
// take minutes) and, meanwhile, its first worker. A reload asked for
// then (logrotate's postrotate, a deploy's `systemctl reload`) would
// stop the stack in the middle of its migration. The signal is held and
// sent again once the supervisor handles it: it is the reload it was
// meant to be.
type startHangups chan os.Signal

func holdStartHangups() startHangups {
	ch := startHangups(earlyhup.Take()) // held since package init, if the program asked (cmd/stack)
	if ch == nil {
		c := make(chan os.Signal, 2) // the supervisor's, once handed to it: room for a SIGTERM too
		signal.Notify(c, syscall.SIGHUP)
		ch = c
	}
	supervisor.SignalsHandled() // a tier child's parent may send its reloads now
	return ch
}

// handOver stops holding, for a command that does not run the stack (or
// failed before it did), and sends a held SIGHUP again if resend: Go's
// default for it, exit, as if it had never been held.
func (h startHangups) handOver(resend bool) {
	if h == nil {
		return
	}
	signal.Stop(h)
	select {
	case <-h:
		if resend {
			syscall.Kill(os.Getpid(), syscall.SIGHUP)
		}
	default:
	}
}

// handTo gives the channel to the supervisor as its own signal channel
// (supervisor.AddSignalsFrom), so that SIGHUP is never unheld nor caught
// twice: a held SIGHUP is a reload if reloadHeld, else dropped. h must not
// be used after.
func (h startHangups) handTo(sup *supervisor.Supervisor, reloadHeld bool, reload func()) {
	sup.AddSignalsFrom(h, reloadHeld, reload)
}

// stop stops holding without sending anything: the stack did not start.
func (h startHangups) stop() {
	if h != nil {
		signal.Stop(h)
	}
}

// takeHangups returns the SIGHUPs held since Main's start, once: the
// first runStack takes them (stack dev runs it again after each change,
// with a hold of its own), or nil.
func (c *cmdEnv) takeHangups() startHangups {
	h := c.hups
	c.hups = nil
	return h
}

// runsTheStack reports whether cmd runs the stack's tiers, for which a
// SIGHUP is a reload.
func runsTheStack(cmd *cobra.Command) bool {
	switch cmd.Name() {
	case "up", "edge", "appserver", "dev":
		return cmd.Parent() != nil && cmd.Parent().Parent() == nil
	}
	return false
}
