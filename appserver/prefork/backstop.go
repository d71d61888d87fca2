package prefork

import (
	"syscall"
	"time"
)

// harakiriBackstop is the master's check, once a second, on what the
// workers report: a worker whose oldest request has run past harakiri,
// its grace and a second more has not ended it itself (its watchdog could
// not run, or it could not exit), so the master kills it, as uWSGI's
// master does, and it is replaced like any dead worker.
func (m *Master) harakiriBackstop(now time.Time) {
	harakiri := m.tuned().harakiri
	if harakiri == 0 {
		return // turned off by a reload
	}
	limit := now.Add(-(harakiri + harakiriGrace + time.Second)).UnixMicro()
	m.mu.Lock()
	defer m.mu.Unlock()
	for w := range m.live {
		if len(w.counters.Oldest) == 0 || w.counters.Oldest[0].Start >= limit || w.killed {
			continue
		}
		r := w.counters.Oldest[0]
		w.killed = true
		m.logger().Error("appserver: harakiri: the worker did not end an overdue request itself; killing it",
			"worker", w.slot.id, "pid", w.pid, "method", r.Method, "uri", r.URI,
			"ran", now.Sub(time.UnixMicro(r.Start)).Round(time.Millisecond))
		w.proc.Signal(syscall.SIGKILL)
	}
}
