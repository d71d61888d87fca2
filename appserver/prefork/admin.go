package prefork

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/stack-web/stack/appserver"
)

// What the admin surface reads and asks of the master: a snapshot of the
// workers (Workers), readiness (Ready), scaling by hand (AddWorker,
// RemoveWorker) and Prometheus metrics (Instrument). The metrics are read
// from the counters the workers already report every statsEvery over the
// control channel: nothing is added per request.

// events counts what happened to the workers, for the metrics.
type events struct {
	harakiri uint64
	reloads  uint64            // workers replaced by a chain reload
	recycles map[string]uint64 // by reason: max_requests, reload_on_rss, max_lifetime
}

func (e *events) replaced(reason string) {
	switch reason {
	case "reload":
		e.reloads++
	case "harakiri":
	default:
		if e.recycles == nil {
			e.recycles = map[string]uint64{}
		}
		e.recycles[reason]++
	}
}

// WorkerInfo is one worker slot as the admin shows it.
type WorkerInfo struct {
	ID    int    `json:"id"`
	PID   int    `json:"pid"`   // 0 while the slot is empty
	State string `json:"state"` // idle, busy, starting, cheap (no process), down (being respawned)
	// Requests counts the requests of every worker that served in the
	// slot; WorkerRequests those of the current one.
	Requests       uint64        `json:"requests"`
	WorkerRequests uint64        `json:"worker_requests"`
	Exceptions     uint64        `json:"exceptions"`
	Harakiri       uint64        `json:"harakiri"`
	Respawns       int           `json:"respawns"`
	RSS            int64         `json:"rss"` // bytes
	Age            time.Duration `json:"age"`
	AvgRT          time.Duration `json:"avg_rt"`
	// Current is the oldest request in flight ("GET /path"), and Running
	// how long it has been running.
	Current string        `json:"current,omitempty"`
	Running time.Duration `json:"running,omitempty"`
}

// Workers returns a snapshot of the worker slots, in slot order.
func (m *Master) Workers() []WorkerInfo {
	m.init()
	now := time.Now()
	m.mu.Lock()
	out := make([]WorkerInfo, 0, len(m.slots))
	for _, s := range m.slots {
		wi := WorkerInfo{ID: s.id, State: "down", Requests: s.served, Respawns: s.spawns}
		if s.cheap {
			wi.State = "cheap"
		}
		for w := range m.live {
			if w.slot == s && w != s.cur {
				wi.Requests += w.counters.Requests // a predecessor still draining
			}
		}
		if w := s.cur; w != nil {
			c := w.counters
			wi.PID, wi.WorkerRequests, wi.Exceptions, wi.Harakiri = w.pid, c.Requests, c.Exceptions, c.Harakiri
			wi.Requests += c.Requests
			wi.Age = now.Sub(w.spawned)
			if c.Requests > 0 {
				wi.AvgRT = time.Duration(c.TotalRT/int64(c.Requests)) * time.Microsecond
			}
			switch {
			case !w.everReady:
				wi.State = "starting"
			case w.unresponsive(now):
				wi.State = "unresponsive"
			case c.Busy > 0:
				wi.State = "busy"
			default:
				wi.State = "idle"
			}
			if len(c.Oldest) > 0 {
				r := c.Oldest[0]
				wi.Current = r.Method + " " + r.URI
				wi.Running = now.Sub(time.UnixMicro(r.Start))
			}
		}
		out = append(out, wi)
	}
	m.mu.Unlock()
	for i := range out {
		if out[i].PID != 0 {
			_, out[i].RSS = processMem(out[i].PID)
		}
	}
	return out
}

// Ready reports whether the master serves, every worker it runs (the
// slots not left cheap) has been ready, and one at least still answers:
// what /readyz waits for.
func (m *Master) Ready() bool {
	m.init()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.stopping || m.listener == nil {
		return false
	}
	now, responsive := time.Now(), false
	for _, s := range m.slots {
		if !s.cheap && (s.cur == nil || !s.cur.everReady) {
			return false
		}
		if s.cur != nil && !s.cur.unresponsive(now) {
			responsive = true
		}
	}
	// A worker that stopped answering still holds its slot (the master
	// replaces only the dead); while another serves, the appserver does.
	return responsive
}

// unresponsive reports whether w has been silent past unresponsiveAfter.
// Call with m.mu held.
func (w *workerHandle) unresponsive(now time.Time) bool {
	return w.everReady && now.Sub(w.lastSeen) > unresponsiveAfter
}

// ErrNoWorkerSlot: AddWorker found every slot running, or RemoveWorker
// only the last worker.
var ErrNoWorkerSlot = errors.New("appserver: no worker to add or remove")

// AddWorker starts a worker in the first cheap slot, as cheaper mode does
// when every worker is busy, and returns the slot. Slots beyond
// appserver.processes are not made: processes is the ceiling.
func (m *Master) AddWorker() (int, error) {
	m.init()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.ending || m.listener == nil {
		return 0, errStopping
	}
	for _, s := range m.slots {
		if s.cheap {
			s.cheap = false
			m.logger().Info("appserver: adding a worker (admin)", "worker", s.id)
			m.respawnLocked(s, 0)
			return s.id, nil
		}
	}
	return 0, fmt.Errorf("%w: all %d are running (appserver.processes is the ceiling)", ErrNoWorkerSlot, len(m.slots))
}

// RemoveWorker retires the running worker in the highest slot (it
// finishes what it accepted), as cheaper mode retires an idle one; the
// last worker is never removed. Cheaper mode may start it again when all
// the others are busy.
func (m *Master) RemoveWorker() (int, error) {
	m.init()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.stopping || m.listener == nil {
		return 0, errStopping
	}
	running := 0
	var last *slot
	for _, s := range m.slots {
		if !s.cheap && s.cur != nil {
			running++
			if !s.replacing {
				last = s
			}
		}
	}
	if running <= 1 || last == nil {
		return 0, fmt.Errorf("%w: %d running, the last one stays", ErrNoWorkerSlot, running)
	}
	w := last.cur
	last.cheap, last.cur = true, nil
	m.logger().Info("appserver: removing a worker (admin)", "worker", last.id, "pid", w.pid)
	m.retireLocked(w)
	return last.id, nil
}

// Instrument registers the master's metrics with reg. They are read at
// scrape time from the workers' last reports.
func (m *Master) Instrument(reg prometheus.Registerer) error {
	return reg.Register(&masterCollector{m: m})
}

var (
	descWorkers       = prometheus.NewDesc("stack_appserver_workers", "Worker slots by state (idle, busy, starting, cheap, down).", []string{"state"}, nil)
	descWorkerReqs    = prometheus.NewDesc("stack_appserver_worker_requests_total", "Requests served by the workers of each slot.", []string{"worker"}, nil)
	descWorkerRSS     = prometheus.NewDesc("stack_appserver_worker_resident_memory_bytes", "Resident memory of each slot's worker.", []string{"worker"}, nil)
	descRespawns      = prometheus.NewDesc("stack_appserver_worker_respawns_total", "Worker starts after a slot's first (deaths, recycles, reloads), as uWSGI's respawn_count.", nil, nil)
	descHarakiri      = prometheus.NewDesc("stack_appserver_harakiri_total", "Requests that ran past harakiri.", nil, nil)
	descRecycles      = prometheus.NewDesc("stack_appserver_worker_recycles_total", "Workers replaced on a limit, by reason.", []string{"reason"}, nil)
	descReloads       = prometheus.NewDesc("stack_appserver_worker_reloads_total", "Workers replaced by a chain reload.", nil, nil)
	descListenQueue   = prometheus.NewDesc("stack_appserver_listen_queue", "Connections waiting in the socket's accept queue.", nil, nil)
	descListenBacklog = prometheus.NewDesc("stack_appserver_listen_queue_max", "The socket's accept queue size.", nil, nil)
)

type masterCollector struct{ m *Master }

func (c *masterCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descWorkers, descWorkerReqs, descWorkerRSS, descRespawns, descHarakiri,
		descRecycles, descReloads, descListenQueue, descListenBacklog} {
		ch <- d
	}
}

func (c *masterCollector) Collect(ch chan<- prometheus.Metric) {
	m := c.m
	workers := m.Workers()
	states := map[string]int{"idle": 0, "busy": 0, "starting": 0, "cheap": 0, "down": 0}
	respawns := 0
	for _, w := range workers {
		states[w.State]++
		respawns += w.Respawns
		id := strconv.Itoa(w.ID)
		ch <- prometheus.MustNewConstMetric(descWorkerReqs, prometheus.CounterValue, float64(w.Requests), id)
		ch <- prometheus.MustNewConstMetric(descWorkerRSS, prometheus.GaugeValue, float64(w.RSS), id)
	}
	for st, n := range states {
		ch <- prometheus.MustNewConstMetric(descWorkers, prometheus.GaugeValue, float64(n), st)
	}
	ch <- prometheus.MustNewConstMetric(descRespawns, prometheus.CounterValue, float64(respawns))
	m.mu.Lock()
	harakiri, reloads := m.events.harakiri, m.events.reloads
	recycles := map[string]uint64{"max_requests": 0, "reload_on_rss": 0, "max_lifetime": 0}
	for k, v := range m.events.recycles {
		recycles[k] = v
	}
	l := m.listener
	m.mu.Unlock()
	ch <- prometheus.MustNewConstMetric(descHarakiri, prometheus.CounterValue, float64(harakiri))
	ch <- prometheus.MustNewConstMetric(descReloads, prometheus.CounterValue, float64(reloads))
	for k, v := range recycles {
		ch <- prometheus.MustNewConstMetric(descRecycles, prometheus.CounterValue, float64(v), k)
	}
	if l != nil {
		q, max := appserver.ListenQueue(l)
		ch <- prometheus.MustNewConstMetric(descListenQueue, prometheus.GaugeValue, float64(q))
		ch <- prometheus.MustNewConstMetric(descListenBacklog, prometheus.GaugeValue, float64(max))
	}
}
