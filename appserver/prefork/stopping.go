package prefork

import (
	"syscall"
	"time"
)

// A stop begins before the master's Shutdown: the supervisor drains the
// edge first (up to shutdown_timeout) and only then shuts the appserver
// down. BeginStop marks that moment: from it on the master starts no
// worker (no respawn, replacement, reload or cheaper-mode start) and
// serves with the workers it has until Shutdown drains them. A worker
// started then would only be drained for nothing, and in a stop sent to
// the master's process group (a terminal's ^C, `kill -- -PGID`, systemd's
// KillMode=control-group) it is the stop's signal that kills a worker
// caught between its fork and its setpgid.

// BeginStop tells the master that the stack's stop has begun: it starts
// no more workers from now on. Shutdown implies it. Safe to call more
// than once, before Start and concurrently with anything.
func (m *Master) BeginStop() {
	m.init()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.beginStopLocked()
}

// beginStopLocked sets ending, once. m.mu is held.
func (m *Master) beginStopLocked() {
	if !m.ending {
		m.ending = true
		close(m.endingC)
	}
	m.closeIfNoneLeftLocked()
}

// closeIfNoneLeftLocked closes the socket once the stop has begun and no
// worker is left: none will be started, so a connection queued there, or
// the edge's request sent again after its worker died, would wait in the
// backlog for the rest of the edge's drain (shutdown_timeout) and then
// be cut without an answer. Closed, it is refused at once: the edge
// answers 502 and its drain ends. m.mu is held.
func (m *Master) closeIfNoneLeftLocked() {
	if m.ending && len(m.live) == 0 && m.listener != nil && !m.sockClosed {
		m.sockClosed = true
		m.listener.Close()
		m.lf.Close()
		m.logger().Info("appserver: no worker left during the stop; socket closed")
	}
}

// stopWithin waits up to d for the stop to begin and says whether it has.
func (m *Master) stopWithin(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-m.endingC:
		return true
	case <-t.C:
		return false
	}
}

// endedBySignalOfStop reports whether w, never ready, was ended by SIGINT,
// SIGTERM or SIGHUP: what a stop sent to the master's process group does
// to a worker caught between its fork and its setpgid (Go's child calls
// setpgid after clone; the signal is pending in it and kills it once it
// has exec'd), or in the Go runtime's start before internal/earlyhup
// ignores them. A worker that was ever ready ignores them: one dead of
// them then was signalled on its own, a crash as any other. False while
// w runs.
func endedBySignalOfStop(w *workerHandle) bool {
	select {
	case <-w.exited:
	default:
		return false
	}
	if w.everReady || w.state == nil {
		return false
	}
	ws, ok := w.state.Sys().(syscall.WaitStatus)
	if !ok || !ws.Signaled() {
		return false
	}
	switch ws.Signal() {
	case syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP:
		return true
	}
	return false
}

// onStopSignalDeathLocked handles the death of w of a stop's signal (see
// endedBySignalOfStop), which was not expected. The master may reap it
// before its own signal handling has begun the stop (the same instant),
// so it is not called a crash at once: the verdict comes when the stop
// begins or at the end of the crash-loop pause its respawn would wait
// anyway, whichever is first. Stopping by then: an INFO line and no
// respawn. Otherwise it is the crash it looked like, logged as onExit
// logs one, and its slot is respawned as onExit would have. m.mu is held.
func (m *Master) onStopSignalDeathLocked(w *workerHandle, status string, lived time.Duration) {
	s := w.slot
	respawn := s.cur == w && !s.replacing
	if s.cur == w {
		s.cur = nil
	}
	attrs := []any{"worker", s.id, "pid", w.pid, "status", status, "requests", w.counters.Requests, "lived", lived}
	if m.ending {
		m.logger().Info("appserver: worker ended by the stop's signal", attrs...)
		return
	}
	pause := crashPause(1) // a reload's new worker: its replacement pauses as long
	if respawn {
		s.crashes++
		pause = crashPause(s.crashes)
	}
	crashes := s.crashes
	go func() {
		stopped := m.stopWithin(pause)
		m.mu.Lock()
		defer m.mu.Unlock()
		if stopped || m.ending {
			m.logger().Info("appserver: worker ended by the stop's signal", attrs...)
			return
		}
		m.logger().Error("appserver: worker died", append(attrs, "was_ready", false)...)
		if !respawn {
			return
		}
		m.logger().Warn("appserver: worker died before it was ready (crash loop?); respawning it after a pause",
			"worker", s.id, "pause", pause, "in_a_row", crashes)
		if s.cur == nil && !s.cheap {
			m.respawnLocked(s, 0)
		}
	}()
}
