package transport

import "sync/atomic"

// Census counts a process's exchanges with uwsgi servers on this host
// (Unix sockets) by what the server did with the connection: this
// project's appserver keeps it (it answers uwsgi.KeepAliveHeader), uWSGI
// closes it after every answer. Only answers to a request that offered to
// keep it are counted: the appserver closes the others too. The two
// schedule differently: uWSGI's workers, woken by each new connection
// under the kernel's normal policy, take the CPU of whichever edge thread
// woke them, and a Go edge that has a thread on every CPU is preempted
// about twice a request (see cli/internal/procstune, which sizes the
// edge's scheduler by this count). Its zero value counts; a nil *Census
// counts nothing.
type Census struct {
	kept, closed atomic.Uint64
}

// Counts returns how many exchanges ended with the connection kept, and
// how many with the server closing it, since the process started.
func (c *Census) Counts() (kept, closed uint64) { return c.kept.Load(), c.closed.Load() }

// count records one exchange with a server on this host.
func (c *Census) count(kept bool) {
	if c == nil {
		return
	}
	if kept {
		c.kept.Add(1)
	} else {
		c.closed.Add(1)
	}
}
