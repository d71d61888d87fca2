package prefork

import (
	"errors"
	"fmt"
	"syscall"
	"time"

	"github.com/stack-web/stack/appserver"
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
	if m.ending {
		m.mu.Unlock()
		return errStopping
	}
	if s.replacing {
		m.mu.Unlock()
		return errReplacing
	}
	if old != nil && s.cur != old || s.cheap {
		// old no longer serves here (replaced, retired, or dead and being
		// respawned), or the slot went cheap: a late recycle or harakiri
		// message from it starts nothing.
		m.mu.Unlock()
		return nil
	}
	s.replacing = true
	nw, err := m.spawnLocked(s)
	m.mu.Unlock()
	if err == nil {
		err = m.awaitReady(nw)
	}
	if err != nil && nw != nil && endedBySignalOfStop(nw) {
		// The stop's signal, sent to the master's group, may have met it
		// before its setpgid; the master may not have seen that signal
		// yet. A reload that a stop ends has not failed.
		m.stopWithin(crashPause(1))
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	s.replacing = false
	if err != nil {
		if nw != nil && !m.stopping {
			nw.retiring = true
			nw.proc.Signal(syscall.SIGKILL)
		}
		if m.ending {
			return errStopping
		}
		m.logger().Error("appserver: replacing a worker failed; the old one keeps serving", "worker", s.id, "reason", reason, "err", err)
		if s.cur == nil {
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
	m.events.replaced(reason)
	attrs := []any{"worker", s.id, "reason", reason, "pid", nw.pid}
	if prev != nil {
		attrs = append(attrs, "old_pid", prev.pid)
		m.retireLocked(prev)
	}
	m.logger().Info("appserver: worker replaced", attrs...)
	return nil
}

// retireMercy is how long a worker told to drain (replaced, or retired by
// cheaper mode) may take to exit before it is killed, as uWSGI's
// worker-reload-mercy: a wedged or stopped worker, or a request that
// never ends, must not leave an invisible process behind every reload.
// With harakiri on, no request may legitimately run longer than it.
func (m *Master) retireMercy() time.Duration {
	if m.mercy > 0 {
		return m.mercy
	}
	if h := m.tuned().harakiri; h > 0 {
		return h + harakiriGrace + time.Second
	}
	return defaultRetireMercy
}

// defaultRetireMercy is uWSGI's worker-reload-mercy default.
const defaultRetireMercy = 60 * time.Second

// retireLocked tells w to drain and kills it if it has not exited within
// retireMercy. m.mu is held.
func (m *Master) retireLocked(w *workerHandle) {
	w.retiring = true
	go w.cc.Send(ctrlMsg{T: "drain", Grace: m.HijackGrace})
	mercy := m.retireMercy()
	time.AfterFunc(mercy, func() {
		select {
		case <-w.exited:
		default:
			m.logger().Error("appserver: a retired worker did not exit within its mercy; killing it",
				"worker", w.slot.id, "pid", w.pid, "mercy", mercy)
			w.proc.Signal(syscall.SIGKILL)
		}
	})
}

// awaitReady waits for w's "ready", its death or worker_ready_timeout.
func (m *Master) awaitReady(w *workerHandle) error {
	ready := m.tuned().readyTimeout
	t := time.NewTimer(ready)
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
		return fmt.Errorf("the new worker (pid %d) was not ready within worker_ready_timeout (%s)", w.pid, ready)
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
// Shutdown ends a reload under way, which then returns appserver.ErrServerClosed.
func (m *Master) Reload() error {
	m.init()
	m.reloadMu.Lock()
	defer m.reloadMu.Unlock()
	m.mu.Lock()
	slots := m.slots
	m.mu.Unlock()
	m.logger().Info("appserver: chain reload: replacing the workers one at a time")
	for _, s := range slots {
		deadline := time.Now().Add(m.tuned().readyTimeout)
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
			if errors.Is(err, errStopping) {
				return appserver.ErrServerClosed // the appserver stops: no failure to report
			}
			return fmt.Errorf("appserver: reload stopped at worker %d; the workers not yet replaced keep serving: %w", s.id, err)
		}
	}
	m.logger().Info("appserver: chain reload done")
	return nil
}
