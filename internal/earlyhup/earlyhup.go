// Package earlyhup holds SIGHUP, SIGINT and SIGTERM from the program's
// package initialisation on, for the stack command line to take over in
// cli.Main. Until a Go program calls signal.Notify, each of them kills it,
// and the packages the stack links (prometheus, protobuf, SQLite's libc)
// take ~10 ms to initialise, several times that on a busy machine: a
// reload sent right after a start (a deploy's `systemctl reload` just
// after `start`) killed `stack up` before its main ran, and a SIGTERM
// then ended it by the signal instead of the graceful stop's exit 0.
// Importing package hold starts the hold during initialisation, as soon
// as os/signal is ready; the rest of the program is unchanged until Take.
//
// A worker process (launch.IsWorker) holds nothing: it ignores the three
// from then on, as it does once it serves (IgnoreAsWorker). They could
// reach it only as its master's process group's (a terminal's ^C or
// hang-up, kill -- -PGID), which the master acts on: held, a SIGHUP was
// sent again once main ran and killed a worker starting for a reload,
// which failed the reload. Workers now run in process groups of their own
// (appserver/prefork), so that even the runtime's start below is safe.
//
// Before this package's init (the Go runtime's own start, ~1 ms from exec
// on an idle machine) the signals keep the kernel's and Go's default: a
// Go program without cgo has no earlier hook.
package earlyhup

import (
	"os"
	"os/signal"
	"sync"
	"syscall"

	"github.com/stack-web/stack/internal/earlyworker/launch"
)

// The hold is process-wide, as signals are: one channel, taken once.
var (
	mu   sync.Mutex
	held chan os.Signal
)

// Signals are the signals held: the ones the stack's supervisor handles.
var Signals = []os.Signal{syscall.SIGHUP, syscall.SIGINT, syscall.SIGTERM}

// Hold starts holding Signals (package hold calls it from its init), or
// ignores them in a worker process.
func Hold() {
	if launch.IsWorker(os.Args) {
		IgnoreAsWorker()
		return
	}
	mu.Lock()
	defer mu.Unlock()
	if held == nil {
		held = make(chan os.Signal, 2) // the supervisor's once handed to it: room for a SIGHUP and a SIGTERM
		signal.Notify(held, Signals...)
	}
}

// IgnoreAsWorker ignores Signals for good in a worker process, and
// SIGTTOU: in a process group of its own, not the terminal's foreground
// one, a worker's log line to the terminal would otherwise stop it under
// `stty tostop`; ignored, the write goes through.
func IgnoreAsWorker() {
	signal.Ignore(append([]os.Signal{syscall.SIGTTOU}, Signals...)...)
}

// Take returns the channel that has held Signals since Hold, still
// registered with signal.Notify, for the caller to stop or drain; nil if
// Hold was not called, ignored them, or the channel was taken already.
func Take() chan os.Signal {
	mu.Lock()
	defer mu.Unlock()
	ch := held
	held = nil
	return ch
}
