package cli

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

// tuneMemory sets this process's memory defaults, each unless the
// environment chose it, and starts the idle trimmer; every process runs it
// (the master, the edge, each worker). The trimmer logs each trim, at
// debug level, through the logger stored in log once the command has one.
func tuneMemory(log *atomic.Pointer[slog.Logger]) (stop func()) {
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

// shareLogger hands the command's logger to the memory trimmer.
func (c *cmdEnv) shareLogger() {
	if c.trimLog != nil {
		c.trimLog.Store(c.logger)
	}
}
