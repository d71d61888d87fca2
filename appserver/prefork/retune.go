package prefork

import (
	"time"

	"github.com/stack-web/stack/appserver"
)

// A reload (SIGHUP) gives the workers it starts the new configuration,
// which they read themselves; but the master acts on some of those keys
// too, and must take the new values with them: its harakiri backstop
// would otherwise kill, at the old limit, a request the new workers let
// run (a harakiri raised from 5s to 60s cut a 10 s request at 8 s, with a
// 502 and an ERROR "did not end an overdue request"), and cheaper mode
// would keep the old min_processes while the reload said "reloaded".
// The keys of the master's own start (processes, listen, user, stats…)
// need a restart: the caller refuses a reload that changes them.

// tuning is what the master takes from a reload.
type tuning struct {
	harakiri     time.Duration // the backstop, and the retire mercy
	readyTimeout time.Duration // worker_ready_timeout
	minProcesses int           // cheaper mode's floor; 0: processes
	threads      int           // when cheaper mode counts a worker busy
}

func tuningOf(c appserver.Config) *tuning {
	return &tuning{harakiri: c.Harakiri, readyTimeout: c.WorkerReadyTimeout, minProcesses: c.MinProcesses, threads: c.Threads}
}

// tuned is the tuning in force: the last reload's, else Config's.
func (m *Master) tuned() *tuning {
	if t := m.tuning.Load(); t != nil {
		return t
	}
	return tuningOf(m.Config)
}

// minRunning is cheaper mode's floor.
func (t *tuning) minRunning(processes int) int {
	if t.minProcesses > 0 {
		return t.minProcesses
	}
	return processes
}

// ReloadWith is Reload with c, the reloaded configuration: the master
// takes its harakiri, worker_ready_timeout, min_processes and threads
// first (the new timeout bounds this reload's workers), then replaces the
// workers; once they are, a min_processes above the workers running
// starts as many more (cheaper mode starts one a busy second, and would
// not while they are idle), and one below it lets cheaper mode retire
// idle ones down to it. A reload that fails gives the master its running
// values back: the caller keeps every tier on the running configuration,
// and the old workers serve on with their harakiri, which the backstop
// must not cut short.
func (m *Master) ReloadWith(c appserver.Config) error {
	m.init()
	running := m.tuning.Load() // nil: Config's
	m.tuning.Store(tuningOf(c))
	m.mu.Lock()
	m.startTickersLocked()
	m.mu.Unlock()
	if err := m.Reload(); err != nil {
		m.tuning.Store(running)
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.growToMinLocked()
	return nil
}

// growToMinLocked starts workers in cheap slots until min_processes run
// (or are on their way: a slot awaiting its respawn counts). m.mu is held.
func (m *Master) growToMinLocked() {
	if m.ending || m.listener == nil {
		return
	}
	running := 0
	for _, s := range m.slots {
		if !s.cheap {
			running++
		}
	}
	min := m.tuned().minRunning(len(m.slots))
	for _, s := range m.slots {
		if running >= min {
			return
		}
		if s.cheap {
			s.cheap = false
			running++
			m.logger().Info("appserver: min_processes raised by the reload; starting one more", "worker", s.id, "running", running)
			m.respawnLocked(s, 0)
		}
	}
}

// startTickersLocked starts cheaper mode's and the harakiri backstop's
// looks once the tuning asks for them, at start or when a reload first
// does; each runs until Shutdown, and does nothing while the tuning turns
// it off. m.mu is held.
func (m *Master) startTickersLocked() {
	if m.stopping {
		return
	}
	t := m.tuned()
	if !m.cheaperOn && t.minRunning(m.Config.Processes) < m.Config.Processes {
		m.cheaperOn = true
		m.tickers = append(m.tickers, startTicking(cheaperEvery, m.cheaperStep))
	}
	if !m.backstopOn && t.harakiri > 0 {
		m.backstopOn = true
		m.tickers = append(m.tickers, startTicking(time.Second, m.harakiriBackstop))
	}
}
