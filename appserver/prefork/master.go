// Package prefork is uWSGI's process model for the appserver: a Master
// that runs an appserver.Server in each of several worker processes, all
// accepting on one listening socket it opened before the fork.
//
// The master starts its workers, the first one early if asked (start.go),
// spawns, reaps and respawns them (master.go), pausing
// on a crash loop; it recycles them on their limits and chain-reloads them
// (reload.go) and takes the settings a reload gives it (retune.go),
// scales them in cheaper mode (cheaper.go), kills one whose
// harakiri did not end it (backstop.go), starts them as another user
// (privileges.go) and reports them on the stats server (stats.go). Master
// and worker talk over a control channel (control.go); RunWorker
// (worker.go) is what a worker process runs.
//
// It imports appserver; appserver does not import it.
package prefork

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/stack-web/stack/appserver"
)

// Master runs worker processes behind one listening socket, as uWSGI's
// master does: each worker is this binary re-executed (Command) with the
// socket inherited as descriptor 3, so every worker accepts on the same
// queue and a worker's death loses only what it had accepted, never what
// waits in the queue. The master never serves a request itself.
//
// It watches its workers over their control channels (control.go) and
// their exits: a worker that dies is logged and replaced at once (with a
// growing pause only if it died before it was ever ready: a crash loop);
// one that reached a recycling limit or hit harakiri is replaced by a new
// worker that is ready before the old one stops. Reload replaces them all,
// one at a time, from the binary on disk. Once the stack's stop has begun
// (BeginStop, then Shutdown), no worker is started any more.
type Master struct {
	// Config is the appserver's configuration; the workers read the same.
	Config appserver.Config
	// Command starts one worker: a binary and the arguments of its hidden
	// worker subcommand. It is run again for every worker, so a rebuilt
	// binary is picked up by the next spawn.
	Command []string
	// Logger receives the master's lines; nil means slog.Default().
	Logger *slog.Logger
	// Output receives the workers' stdout and stderr; nil means os.Stderr.
	Output io.Writer
	// Env is added to this process's environment for each worker.
	Env []string
	// Inherit, if set, gives each worker the files it inherits from
	// descriptor firstFD on, and the environment naming them (inherit.go).
	Inherit func(firstFD int) (files []*os.File, env []string, err error)
	// HijackGrace is how long a worker retired by a reload keeps its
	// hijacked connections (WebSockets) before it closes them, so that it
	// can exit (shutdown_timeout); 0 leaves them to the retire mercy.
	HijackGrace time.Duration

	initOnce sync.Once
	mu       sync.Mutex
	listener net.Listener
	lf       *os.File // the listener's descriptor passed to workers
	slots    []*slot
	live     map[*workerHandle]struct{}
	stopping bool          // Shutdown has begun
	stopped  chan struct{} // closed when Shutdown begins
	ending   bool          // the stop has begun (BeginStop, Shutdown): no worker is started (stopping.go)
	endingC  chan struct{} // closed when ending is set
	allGone  chan struct{} // closed once stopping and no worker is left
	done     chan struct{} // closed when Shutdown has finished
	doneOnce sync.Once
	cred     *syscall.Credential
	stats    *statsServer
	tickers  []*ticking // cheaper mode, the harakiri backstop
	// cheaperOn, backstopOn: their tickers run (startTickersLocked).
	cheaperOn, backstopOn bool
	// tuning is what the last reload gave the master (retune.go); nil:
	// Config's.
	tuning   atomic.Pointer[tuning]
	started  time.Time
	reloadMu sync.Mutex
	mercy    time.Duration // retireMercy's value, if set (tests)
	cpus     int           // the CPUs a start spreads workers over (spawnRest); 0: runtime.NumCPU() (tests set it)
	events   events        // for the admin's metrics (admin.go), under mu

	// sockClosed: listener and lf are closed, by Shutdown or, once the
	// stop has begun, when no worker is left (closeIfNoneLeftLocked).
	sockClosed bool
}

// slot is one worker position (uWSGI's worker id): the worker serving in it
// changes as workers die, recycle and reload.
type slot struct {
	id        int
	cur       *workerHandle // nil while cheap or between a death and its respawn
	spawns    int
	crashes   int // consecutive deaths before ready, for the crash-loop pause
	replacing bool
	cheap     bool
	lastSpawn time.Time
	served    uint64 // requests of the slot's workers that have exited
}

// workerHandle is one worker process as the master sees it. Fields below
// cmd are guarded by Master.mu.
type workerHandle struct {
	slot    *slot
	pid     int
	proc    *os.Process
	state   *os.ProcessState // once reaped
	cc      *ctrlConn
	spawned time.Time
	ready   chan struct{} // closed on its "ready"
	exited  chan struct{} // closed once reaped

	everReady bool
	awaiting  bool      // prespawned: waits for the listening socket (prespawn.go)
	early     bool      // adopted from the binary's init (PrespawnEarly)
	readyAt   time.Time // its first "ready"
	retiring  bool      // told to drain (or given up on): its exit is expected
	killed    bool      // by the harakiri backstop
	harakiri  bool      // reported a harakiri: it exits on its own
	counters  workerCounters
	idleSince time.Time
	lastSeen  time.Time // its last message (heartbeatEvery at least, while it runs)
	lastRead  uint64    // requests at the last stats read, for delta_requests
	status    string    // its exit status, once exited
}

// errStopping is returned by a replacement or reload asked for while the
// appserver stops.
var errStopping = errors.New("appserver: stopping")

func (m *Master) init() {
	m.initOnce.Do(func() {
		m.live = make(map[*workerHandle]struct{})
		m.stopped = make(chan struct{})
		m.endingC = make(chan struct{})
		m.allGone = make(chan struct{})
		m.done = make(chan struct{})
	})
}

func (m *Master) logger() *slog.Logger {
	if m.Logger != nil {
		return m.Logger
	}
	return slog.Default()
}

// ListenStats opens the stats server's socket (appserver.stats), if one
// is configured, so that a busy port is reported before anything starts.
// Serve calls it if the caller did not.
func (m *Master) ListenStats() error {
	m.init()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.Config.Stats == "" || m.stats != nil || m.stopping {
		return nil
	}
	s, err := listenStats(m.Config.Stats, m)
	if err != nil {
		return err
	}
	m.stats = s
	return nil
}

// spawnLocked starts a worker for s. m.mu is held.
func (m *Master) spawnLocked(s *slot) (*workerHandle, error) {
	cc, theirs, err := controlPair()
	if err != nil {
		return nil, err
	}
	out := m.Output
	if out == nil {
		out = os.Stderr
	}
	lf, files, env, err := m.filesForSpawnLocked()
	if err != nil {
		cc.Close()
		theirs.Close()
		return nil, err
	}
	cmd := exec.Command(m.Command[0], m.Command[1:]...)
	cmd.ExtraFiles = append([]*os.File{lf, theirs}, files...) // descriptors 3 and 4, then Inherit's
	cmd.Stdout, cmd.Stderr = out, out
	cmd.Env = append(append(os.Environ(), env...), cpuShareEnv(m.Config.Processes)...)
	// Pdeathsig: a worker never outlives a master killed with SIGKILL.
	// Setpgid: the signals of the master's process group (a terminal's ^C
	// or hang-up, kill -- -PGID) are the master's to act on; a worker
	// ignores them from its package init (internal/earlyhup), but in the
	// Go runtime's start before that, ~1 ms from exec and more on a busy
	// machine, one killed it: a reload's new worker, and so the reload.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true, Credential: m.cred}
	err = cmd.Start()
	closeFiles(append(files, theirs))
	if lf != m.lf {
		lf.Close() // the placeholder of a prespawned worker
	}
	if err != nil {
		cc.Close()
		return nil, fmt.Errorf("appserver: starting worker %d (%s): %w", s.id, m.Command[0], err)
	}
	return m.addWorkerLocked(s, cmd.Process, cc, lf != m.lf), nil
}

// addWorkerLocked makes the handle of a started worker process p in s and
// watches it; awaiting if it waits for the listening socket. m.mu is held.
func (m *Master) addWorkerLocked(s *slot, p *os.Process, cc *ctrlConn, awaiting bool) *workerHandle {
	w := &workerHandle{slot: s, pid: p.Pid, proc: p, cc: cc, spawned: time.Now(),
		ready: make(chan struct{}), exited: make(chan struct{}), idleSince: time.Now(), awaiting: awaiting}
	if !s.lastSpawn.IsZero() {
		s.spawns++ // uWSGI's respawn_count: every start after the first
	}
	s.lastSpawn = w.spawned
	m.live[w] = struct{}{}
	go m.watch(w)
	return w
}

// respawnLocked puts a new worker in s, at once or after delay; a start
// that fails is retried with the crash-loop pause. Once the stop has
// begun it starts nothing. m.mu is held.
func (m *Master) respawnLocked(s *slot, delay time.Duration) {
	if m.ending {
		return
	}
	if delay > 0 {
		time.AfterFunc(delay, func() {
			m.mu.Lock()
			defer m.mu.Unlock()
			if s.cur == nil && !s.cheap {
				m.respawnLocked(s, 0)
			}
		})
		return
	}
	w, err := m.spawnLocked(s)
	if err != nil {
		s.crashes++
		next := crashPause(s.crashes)
		m.logger().Error("appserver: cannot start a worker; retrying", "worker", s.id, "err", err, "in", next)
		m.respawnLocked(s, next)
		return
	}
	s.cur = w
	if !w.awaiting {
		m.killIfNotReadyLocked(w) // start.go; a prespawned one once it has the socket
	}
}

// crashPause is the pause before respawning a worker that died before it
// was ever ready for the n-th time in a row: 100ms doubling to 5s.
func crashPause(n int) time.Duration {
	return min(100*time.Millisecond<<min(n-1, 6), 5*time.Second)
}

// watch reads w's control messages until the channel closes (the worker
// exited or closed it), then reaps it: wait4 returns as soon as the
// process is gone, so a death is seen at once, not on a tick.
func (m *Master) watch(w *workerHandle) {
	for {
		msg, err := w.cc.Recv()
		if err != nil {
			break
		}
		m.onMsg(w, msg)
	}
	state, err := w.proc.Wait()
	w.cc.Close()
	w.state = state
	m.onExit(w, err)
}

func (m *Master) onMsg(w *workerHandle, msg ctrlMsg) {
	m.mu.Lock()
	w.lastSeen = time.Now()
	m.mu.Unlock()
	switch msg.T {
	case "ready":
		m.mu.Lock()
		if !w.everReady {
			w.everReady = true
			w.readyAt = time.Now()
			w.slot.crashes = 0
			close(w.ready)
		}
		m.mu.Unlock()
		m.logger().Info("appserver: worker ready", "worker", w.slot.id, "pid", w.pid)
	case "stats":
		if msg.Stats == nil {
			return
		}
		m.mu.Lock()
		if msg.Stats.Busy > 0 {
			w.idleSince = time.Time{}
		} else if w.idleSince.IsZero() {
			w.idleSince = time.Now()
		}
		w.counters = *msg.Stats
		m.mu.Unlock()
	case "harakiri":
		m.logger().Error("appserver: worker hit harakiri; replacing it", "worker", w.slot.id, "pid", w.pid,
			"method", msg.Method, "uri", msg.URI)
		m.mu.Lock()
		w.harakiri = true
		w.counters.Harakiri++
		m.events.harakiri++
		w.counters.Accepting = false
		m.mu.Unlock()
		// It stops accepting and exits after a grace; if it does not,
		// it is killed a second later.
		time.AfterFunc(harakiriGrace+time.Second, func() {
			select {
			case <-w.exited:
			default:
				m.logger().Error("appserver: worker outlived its harakiri grace; killing it", "worker", w.slot.id, "pid", w.pid)
				w.proc.Signal(syscall.SIGKILL)
			}
		})
		go m.replace(w.slot, w, "harakiri")
	case "recycle":
		go m.replace(w.slot, w, msg.Reason)
	}
}

// onExit records a reaped worker and respawns its slot if the death was
// not expected (and the stop has not begun). A worker that a stop's
// signal may have killed is judged a little later (stopping.go).
func (m *Master) onExit(w *workerHandle, err error) {
	status := "exit status 0"
	if w.state != nil {
		status = w.state.String()
	} else if err != nil {
		status = err.Error()
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	w.status = status
	close(w.exited)
	delete(m.live, w)
	defer m.closeIfNoneLeftLocked() // stopping.go; before the unlock, after this death's own line
	s := w.slot
	s.served += w.counters.Requests
	expected := w.retiring || m.stopping
	lived := time.Since(w.spawned).Round(time.Millisecond)
	if !expected && !w.harakiri && endedBySignalOfStop(w) {
		m.onStopSignalDeathLocked(w, status, lived) // stopping.go: a crash, or the stop's doing?
		return
	}
	if expected || w.harakiri {
		m.logger().Info("appserver: worker exited", "worker", s.id, "pid", w.pid, "status", status,
			"requests", w.counters.Requests, "lived", lived)
	} else {
		m.logger().Error("appserver: worker died", "worker", s.id, "pid", w.pid, "status", status,
			"requests", w.counters.Requests, "lived", lived, "was_ready", w.everReady)
	}
	if !expected && s.cur == w {
		s.cur = nil
		// A replacement already on its way takes the slot (or respawns
		// it if it fails); otherwise respawn now, unless stopping.
		if !s.replacing && !m.ending {
			var delay time.Duration
			if !w.everReady {
				s.crashes++
				delay = crashPause(s.crashes)
				m.logger().Warn("appserver: worker died before it was ready (crash loop?); pausing before the respawn",
					"worker", s.id, "pause", delay, "in_a_row", s.crashes)
			}
			m.respawnLocked(s, delay)
		}
	}
	if m.stopping && len(m.live) == 0 {
		select {
		case <-m.allGone:
		default:
			close(m.allGone)
		}
	}
}

// Shutdown stops the appserver: the socket is closed and removed (no new
// connection gets in), every worker is told to drain (stop accepting,
// finish its requests, exit), and at ctx's end the ones left are killed.
// It returns once no worker is left.
func (m *Master) Shutdown(ctx context.Context) error {
	m.init()
	m.mu.Lock()
	var drain []*workerHandle
	if !m.stopping {
		m.stopping = true
		close(m.stopped)
		if m.listener != nil && !m.sockClosed {
			m.sockClosed = true
			m.listener.Close()
			m.lf.Close()
		}
		m.beginStopLocked()
		for w := range m.live {
			drain = append(drain, w)
		}
		if len(m.live) == 0 {
			close(m.allGone)
		}
	}
	m.mu.Unlock()
	for _, w := range drain {
		w.cc.Send(ctrlMsg{T: "drain"})
	}
	var err error
	select {
	case <-m.allGone:
	case <-ctx.Done():
		m.mu.Lock()
		n := len(m.live)
		for w := range m.live {
			w.proc.Signal(syscall.SIGKILL)
		}
		m.mu.Unlock()
		if n > 0 { // else all were gone (the select picks either when both are ready): nothing was cut short
			err = fmt.Errorf("appserver: shutdown: %d workers still busy were killed: %w", n, ctx.Err())
		}
		<-m.allGone // SIGKILL cannot be refused; they are reaped at once
	}
	m.mu.Lock()
	stats, tickers := m.stats, m.tickers
	m.tickers = nil
	m.mu.Unlock()
	for _, t := range tickers {
		t.stop()
	}
	if stats != nil {
		stats.Close()
	}
	m.doneOnce.Do(func() { close(m.done) })
	return err
}
