// Package earlyhup holds SIGHUP from the program's package initialisation
// on, for the stack command line to take over in cli.Main. Until a Go
// program calls signal.Notify, SIGHUP kills it, and the packages the stack
// links (prometheus, protobuf, SQLite's libc) take ~10 ms to initialise,
// several times that on a busy machine: a reload sent right after a start
// (a deploy's `systemctl reload` just after `start`) killed `stack up`
// before its main ran. Importing package hold starts the hold during
// initialisation, as soon as os/signal is ready; the rest of the program
// is unchanged until Take.
package earlyhup

import (
	"os"
	"os/signal"
	"sync"
	"syscall"
)

// The hold is process-wide, as signals are: one channel, taken once.
var (
	mu   sync.Mutex
	held chan os.Signal
)

// Hold starts holding SIGHUP (package hold calls it from its init).
func Hold() {
	mu.Lock()
	defer mu.Unlock()
	if held == nil {
		held = make(chan os.Signal, 2) // the supervisor's once handed to it: room for a SIGTERM too
		signal.Notify(held, syscall.SIGHUP)
	}
}

// Take returns the channel that has held SIGHUP since Hold, still
// registered with signal.Notify, for the caller to stop or drain; nil if
// Hold was not called or the channel was taken already.
func Take() chan os.Signal {
	mu.Lock()
	defer mu.Unlock()
	ch := held
	held = nil
	return ch
}
