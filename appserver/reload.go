package appserver

import (
	"errors"
	"fmt"
	"syscall"
	"time"
)

// Replacing a worker, for a recycle, a harakiri or a reload, always goes
// the same way: start the new one, wait until it is ready, and only then
// tell the old one to drain. A worker is never stopped before its
// successor accepts, so the socket's queue is always being served.

// errReplacing means a replacement for the slot is already under way.
var errReplacing = errors.New("a replacement is already starting")

// replace starts a new worker for s and, once it is ready, tells the one
// serving there (old, normally) to drain. If the new worker exits or is not
// ready within worker_ready_timeout, it is killed and the old one keeps
// serving.
func (m *Master) replace(s *slot, old *workerHandle, reason string) error {
	m.mu.Lock()
	if m.stopping {
		m.mu.Unlock()
		return errStopping
	}
	if s.replacing {
		m.mu.Unlock()
		return errReplacing
	}
	if old != nil && s.cur != old && s.cur != nil {
		m.mu.Unlock()
		return nil // old was replaced already
	}
	s.replacing = true
	nw, err := m.spawnLocked(s)
	m.mu.Unlock()
	if err == nil {
		err = m.awaitReady(nw)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	s.replacing = false
	if err != nil {
		if nw != nil && !m.stopping {
			nw.retiring = true
			nw.cmd.Process.Signal(syscall.SIGKILL)
		}
		if !m.stopping {
			m.logger().Error("appserver: replacing a worker failed; the old one keeps serving", "worker", s.id, "reason", reason, "err", err)
		}
		if s.cur == nil && !m.stopping {
			s.crashes++
			m.respawnLocked(s, crashPause(s.crashes))
		}
		return err
	}
	prev := s.cur
	s.cur = nw
	if m.stopping {
		nw.retiring = true
		go nw.cc.Send(ctrlMsg{T: "drain"})
		return errStopping
	}
	attrs := []any{"worker", s.id, "reason", reason, "pid", nw.pid}
	if prev != nil {
		prev.retiring = true
		attrs = append(attrs, "old_pid", prev.pid)
		go prev.cc.Send(ctrlMsg{T: "drain"})
	}
	m.logger().Info("appserver: worker replaced", attrs...)
	return nil
}

// awaitReady waits for w's "ready", its death or worker_ready_timeout.
func (m *Master) awaitReady(w *workerHandle) error {
	t := time.NewTimer(m.Config.WorkerReadyTimeout)
	defer t.Stop()
	select {
	case <-w.ready:
		return nil
	case <-w.exited:
		m.mu.Lock()
		status := w.status
		m.mu.Unlock()
		return fmt.Errorf("the new worker (pid %d) exited before it was ready: %s", w.pid, status)
	case <-t.C:
		return fmt.Errorf("the new worker (pid %d) was not ready within worker_ready_timeout (%s)", w.pid, m.Config.WorkerReadyTimeout)
	case <-m.stopped:
		// Shutdown drains it with the others (and kills it at its
		// deadline if it hangs): a reload must not hold the stop back.
		return errStopping
	}
}

// Reload replaces every worker, one at a time, with one started from the
// binary on disk: the new worker is ready before the old one drains, so
// no request is refused. A new worker that cannot start stops the reload;
// the workers not yet replaced keep serving, and the error says why.
func (m *Master) Reload() error {
	m.init()
	m.reloadMu.Lock()
	defer m.reloadMu.Unlock()
	m.mu.Lock()
	slots := m.slots
	m.mu.Unlock()
	m.logger().Info("appserver: chain reload: replacing the workers one at a time")
	for _, s := range slots {
		deadline := time.Now().Add(m.Config.WorkerReadyTimeout)
		for {
			m.mu.Lock()
			old, cheap := s.cur, s.cheap
			m.mu.Unlock()
			if cheap {
				break
			}
			err := m.replace(s, old, "reload")
			if err == nil {
				break
			}
			if errors.Is(err, errReplacing) && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond) // a recycle is under way; then reload this slot too
				continue
			}
			return fmt.Errorf("appserver: reload stopped at worker %d; the workers not yet replaced keep serving: %w", s.id, err)
		}
	}
	m.logger().Info("appserver: chain reload done")
	return nil
}
