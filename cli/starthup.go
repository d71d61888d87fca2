package cli

import (
	"os"
	"os/signal"
	"slices"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/stack-web/stack/internal/earlyhup"
	"github.com/stack-web/stack/supervisor"
)

// startHangups keeps a SIGHUP, SIGINT or SIGTERM that comes while the
// stack starts from killing it: until the supervisor handles signals,
// Go's default for each is to exit, and `up` starts with its release (a
// migration can take minutes) and, meanwhile, its first worker. A reload
// asked for then (logrotate's postrotate, a deploy's `systemctl reload`)
// would stop the stack in the middle of its migration, and a stop would
// end it by the signal rather than with the graceful stop's exit 0. The
// signals are held and handed to the supervisor: a SIGHUP is the reload
// it was meant to be, a SIGINT or SIGTERM a stop (before the release: see
// stopHeld).
type startHangups chan os.Signal

func holdStartHangups() startHangups {
	ch := startHangups(earlyhup.Take()) // held since package init, if the program asked (cmd/stack)
	if ch == nil {
		c := make(chan os.Signal, 2) // the supervisor's, once handed to it: room for a SIGHUP and a SIGTERM
		signal.Notify(c, earlyhup.Signals...)
		ch = c
	}
	supervisor.SignalsHandled() // a tier child's parent may send its reloads now
	return ch
}

// handOver stops holding, for a command that does not run the stack (or
// failed before it did), and sends again those held signals that are in
// resend: Go's default for them, exit, as if they had never been held.
// A command about to run gets them all back; one that failed is about to
// exit, and only a SIGHUP (the terminal hung up) changes how: a SIGINT or
// SIGTERM that stopped it (stack dev's first build) leaves its status.
func (h startHangups) handOver(resend ...os.Signal) {
	if h == nil {
		return
	}
	signal.Stop(h)
	for {
		select {
		case sig := <-h:
			if s, ok := sig.(syscall.Signal); ok && slices.Contains(resend, sig) {
				syscall.Kill(os.Getpid(), s)
			}
		default:
			return
		}
	}
}

// stopHeld returns the SIGINT or SIGTERM held so far, nil if none; a
// held SIGHUP stays held. A stop asked for while the stack starts is
// done before the release runs or a socket opens, not after a migration
// nobody wants any more.
func (h startHangups) stopHeld() os.Signal {
	var stop os.Signal
	hup := false
	for drained := false; !drained; {
		select {
		case sig := <-h:
			if sig == syscall.SIGHUP {
				hup = true
			} else if stop == nil {
				stop = sig
			}
		default:
			drained = true
		}
	}
	if hup {
		select {
		case h <- syscall.SIGHUP:
		default: // a signal came meanwhile: SIGHUPs fold anyway
		}
	}
	return stop
}

// handTo gives the channel to the supervisor as its own signal channel
// (supervisor.AddSignalsFrom), so that no signal is ever unheld nor
// caught twice: a held SIGHUP is a reload if reloadHeld, else dropped; a
// held SIGINT or SIGTERM stops the stack as it starts. h must not be used
// after.
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
// first runStack takes them (a caller of Run that runs the stack again
// gets a hold of runStack's own; stack dev runs it once and reloads its
// workers after each change), or nil.
//
// runStack never stops Main's hold when it returns before the supervisor
// has it (a stop held before the release, a failed release, a socket in
// use): the process's exit, right after, ends it. Stopped, a second
// SIGTERM or SIGINT (a supervisor sending TERM twice, ^C twice) that came
// before the exit took Go's default and ended the process by the signal,
// status 143, not with the status the first one decided (0 for a stop
// before anything ran). Held, it is dropped with the process (a full
// channel drops what comes). A hold of runStack's own (Run, without
// Main) is stopped: its caller lives on.
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
