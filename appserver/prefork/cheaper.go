package prefork

import (
	"sync"
	"time"
)

// Cheaper mode (min_processes below processes), after uWSGI's cheaper
// subsystem: once a second the master looks at its workers' reports; if
// every running worker is busy and a slot is free it starts one more, and
// if a worker has been idle for cheaperIdle while more than min_processes
// run it retires one. One change per look, so the pool moves smoothly.
const (
	cheaperEvery = time.Second
	cheaperIdle  = 10 * time.Second
)

// ticking runs fn every period on its own goroutine until stop.
type ticking struct {
	quit chan struct{}
	wg   sync.WaitGroup
}

func startTicking(every time.Duration, fn func(now time.Time)) *ticking {
	t := &ticking{quit: make(chan struct{})}
	t.wg.Go(func() {
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-t.quit:
				return
			case now := <-tick.C:
				fn(now)
			}
		}
	})
	return t
}

func (t *ticking) stop() {
	close(t.quit)
	t.wg.Wait()
}

// cheaperStep adds or retires at most one worker.
func (m *Master) cheaperStep(now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.ending {
		return // the stop has begun: the pool stays as it is until Shutdown
	}
	t := m.tuned()
	running, busy := 0, 0
	var free, idle *slot
	for _, s := range m.slots {
		switch {
		case s.cheap:
			if free == nil {
				free = s
			}
		case s.cur != nil:
			running++
			w := s.cur
			if w.counters.Busy > 0 && (t.threads == 0 || w.counters.Busy >= int64(t.threads)) {
				busy++
			}
			if !w.idleSince.IsZero() && now.Sub(w.idleSince) > cheaperIdle && !s.replacing {
				idle = s
			}
		}
	}
	min := t.minRunning(len(m.slots))
	switch {
	case free != nil && running > 0 && busy == running:
		free.cheap = false
		m.logger().Info("appserver: cheaper: every worker is busy; starting one more", "worker", free.id, "running", running+1)
		m.respawnLocked(free, 0)
	case idle != nil && running > min:
		w := idle.cur
		idle.cheap, idle.cur = true, nil
		m.logger().Info("appserver: cheaper: retiring an idle worker", "worker", idle.id, "pid", w.pid, "running", running-1)
		m.retireLocked(w)
	}
}
