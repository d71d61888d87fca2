// Package memtune sets a stack process's memory defaults at its start: the
// collector's GOGC, no heap profile sampling, and the idle trimmer that
// gives the heap back to the system (internal/memtrim). It stands alone
// because it runs before the command line is read and needs nothing of
// it: cli's Main calls it and hands it the logger once there is one.
package memtune

import (
	"log/slog"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"sync/atomic"

	"github.com/stack-web/stack/internal/memtrim"
)

// defaultGCPercent is GOGC unless the environment sets it: a proxy's live
// heap is tiny and its garbage plentiful, so Go's default (collect when
// the heap doubles) runs the collector thousands of times a second under
// load. Trading a few MiB for it saves about 15% of the CPU per request
// (see README, Performance).
const defaultGCPercent = 400

// Tune sets this process's memory defaults, each unless the
// environment chose it, and starts the idle trimmer; every process runs it
// (the master, the edge, each worker). The trimmer logs each trim, at
// debug level, through the logger stored in log once the command has one.
func Tune(log *atomic.Pointer[slog.Logger]) (stop func()) {
	if !strings.Contains(os.Getenv("GODEBUG"), "memprofilerate=") {
		// The heap profile's sampling keeps a hash table of call stacks
		// (1.4 MB mapped, most of it touched after a busy spell) in every
		// process, and nothing here serves heap profiles.
		// GODEBUG=memprofilerate=N turns it back on.
		runtime.MemProfileRate = 0
	}
	o := memtrim.Options{OnTrim: func(before, after uint64) {
		if l := log.Load(); l != nil {
			l.Debug("memtrim: idle; heap returned to the system", "pid", os.Getpid(), "heap_before_kb", before>>10, "heap_after_kb", after>>10)
		}
	}}
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(defaultGCPercent)
	}
	return memtrim.Start(o)
}
