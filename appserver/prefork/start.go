package prefork

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"runtime"
	"slices"
	"syscall"
	"time"

	"github.com/stack-web/stack/appserver"
	"github.com/stack-web/stack/internal/earlyworker"
	"github.com/stack-web/stack/internal/envnames"
)

// Serve starts the workers on l (unless Start already did) and supervises
// them until Shutdown; it then returns appserver.ErrServerClosed. l stays
// open in the master (the workers' copies share its queue) until Shutdown
// closes it.
func (m *Master) Serve(l net.Listener) error {
	if err := m.Start(l); err != nil {
		return err
	}
	// Logged here, not in Start: a caller that starts the workers
	// early still has its own lines (where it listens) come first.
	m.logger().Info("appserver: master started", "pid", os.Getpid(), "workers", m.active(), "processes", m.Config.Processes)
	<-m.done
	return appserver.ErrServerClosed
}

// Start starts the workers on l, without waiting: a first worker that
// Prespawn started is handed l (prespawn.go), the others follow it. A
// second call does nothing.
func (m *Master) Start(l net.Listener) error {
	m.init()
	if len(m.Command) == 0 {
		return errors.New("appserver: Master.Serve: no Command to start workers with")
	}
	n := m.Config.Processes
	if n < 1 {
		return errors.New("appserver: Master.Serve: processes must be at least 1")
	}
	cred, err := workerCredential(m.Config.User, m.Config.Group)
	if err != nil {
		return err
	}
	lf, err := appserver.ListenerFile(l)
	if err != nil {
		return err
	}
	if err := m.ListenStats(); err != nil {
		lf.Close()
		return err
	}
	active := m.active()
	m.mu.Lock()
	if m.stopping || m.lf != nil {
		stopping := m.stopping
		m.mu.Unlock()
		lf.Close()
		if stopping {
			return appserver.ErrServerClosed
		}
		return nil
	}
	m.listener, m.lf, m.cred, m.started = l, lf, cred, time.Now()
	for i := len(m.slots); i < n; i++ { // slot 1 exists if Prespawn made it
		m.slots = append(m.slots, &slot{id: i + 1, cheap: i >= active})
	}
	if !m.startPrespawnedLocked(m.slots[0]) {
		m.respawnLocked(m.slots[0], 0)
	}
	// A reload (SIGHUP) or a respawn before Start started workers that
	// wait for the socket too: each gets it, or it would never be ready.
	for w := range m.live {
		if w.awaiting && !w.retiring {
			m.handSocketLocked(w)
		}
	}
	go m.spawnRest(m.slots[0].cur)
	m.startTickersLocked()
	m.closeIfNoneLeftLocked() // a stop begun before Start started no worker
	m.mu.Unlock()
	return nil
}

// active is how many workers run at first: min_processes in cheaper mode
// (a reload's, if one came before the start).
func (m *Master) active() int {
	return m.tuned().minRunning(m.Config.Processes)
}

// spawnRest starts the other workers: at once as many as the CPUs the
// first does not need (alongside), the rest once the first is ready (or
// gone). Each worker is a Go process start, tens of milliseconds of CPU,
// and a fresh stack's first request waits in the backlog for the first
// worker: started beside it on a CPU of their own, the others are not in
// its way, and their start is over before the first request is served
// (on 2 CPUs with 2 workers, starting the second with the first rather
// than once it is ready brought the first 200 of `stack up` 2 to 3.5 ms
// sooner, medians of 20 interleaved starts: scripts/startup-ab.py). More
// of them would share the first's CPU. An early first worker (adopted
// from the binary's init) is past its process start: the others wait.
// first is nil if it could not be started: the rest start at once.
func (m *Master) spawnRest(first *workerHandle) {
	m.mu.Lock()
	m.spawnOthersLocked(alongside(first, len(m.slots), m.cpus))
	m.mu.Unlock()
	if first != nil {
		// One that hangs in its start must not hold the others back.
		ready := m.tuned().readyTimeout
		t := time.NewTimer(ready)
		select {
		case <-first.ready:
		case <-first.exited:
		case <-m.stopped:
		case <-t.C:
			m.logger().Warn("appserver: the first worker is not ready within worker_ready_timeout; starting the others",
				"worker", first.slot.id, "pid", first.pid, "worker_ready_timeout", ready)
		}
		t.Stop()
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.spawnOthersLocked(len(m.slots) - 1)
}

// alongside is how many of the other slots (of n) start with the first
// worker: one per CPU the first does not use (cpus; 0 means the CPUs this
// process may use: GOMAXPROCS, which follows a container's CPU limit, as
// the workers' own share does), all of them if there is no first worker,
// none if the first was started during the binary's init (early): its
// process start is over, what is left is its app's build and first page,
// and the others' starts would only take CPU from them (polls, 2 workers
// on 2 CPUs: 26.8 -> 22.2 ms to the first 200 with the early hand-off,
// medians of 16 interleaved starts, scripts/startup-ab.py).
func alongside(first *workerHandle, n, cpus int) int {
	if first == nil {
		return n - 1
	}
	if first.early {
		return 0
	}
	if cpus <= 0 {
		cpus = min(runtime.NumCPU(), runtime.GOMAXPROCS(0))
	}
	return max(0, min(n-1, cpus-1))
}

// killIfNotReadyLocked kills w if it is not ready within
// worker_ready_timeout, as a reload's replacement is (awaitReady): a
// worker hung in its start (an app's init blocked on a database that
// does not answer, a deadlock) would otherwise hold its slot for as long
// as it hangs, and with one process nothing would be served. Its death
// respawns the slot after the crash-loop pause. m.mu is held.
func (m *Master) killIfNotReadyLocked(w *workerHandle) {
	d := m.Config.WorkerReadyTimeout
	if d <= 0 {
		return
	}
	time.AfterFunc(d, func() {
		m.mu.Lock()
		hung := !w.everReady && !w.retiring && !m.stopping
		select {
		case <-w.exited:
			hung = false
		default:
		}
		m.mu.Unlock()
		if hung {
			m.logger().Error("appserver: worker not ready within worker_ready_timeout; killing it",
				"worker", w.slot.id, "pid", w.pid, "worker_ready_timeout", d)
			w.proc.Signal(syscall.SIGKILL)
		}
	})
}

// spawnOthersLocked starts a worker in each of the first k slots after the
// first that has none and is not cheap. m.mu is held.
func (m *Master) spawnOthersLocked(k int) {
	for _, s := range m.slots[1 : 1+k] {
		if !m.ending && s.cur == nil && !s.cheap {
			m.respawnLocked(s, 0)
		}
	}
}

// A worker is a process start (the binary's runtime and package init,
// its configuration, its app: tens of milliseconds) and a fresh stack's
// first request waits for the first worker. Prespawn starts that worker
// before the master has its listening socket, while the caller still has
// work to do before it may open one (`stack up` runs its release first:
// no request may meet a schema the code does not expect, and a failed
// release must leave nothing listening). The worker runs its init and
// loads its configuration, then waits (AwaitStart) before it builds the
// app; Start hands it the socket over the control channel, with the byte
// startByte and the descriptor (SCM_RIGHTS), before any other message.
// Until then the worker's descriptor 3 is /dev/null, holding the number.
//
// A worker that is told anything else first (the drain of a Shutdown
// before Start), or whose master is gone, exits 0 without building the
// app.

// awaitStartEnv marks a prespawned worker's environment.
const awaitStartEnv = envnames.PreforkAwaitStart

// startByte is the message that carries the listening socket.
const startByte = 'S'

// Prespawn starts the first worker now, before Start or Serve has the
// listening socket; Start hands it the socket. If Start is never called,
// Shutdown stops it. Calling it after Start, or twice, does nothing.
// Reload and the admin's actions are for after Start.
func (m *Master) Prespawn() error {
	return m.PrespawnEarly(nil)
}

// PrespawnEarly is Prespawn with e, a process of this binary started
// during the program's package initialisation (package earlyworker), as
// the first worker: it is sent the command line and environment the
// master would have started it with. If it cannot stand for one (the
// worker command names another binary, the workers run as another user
// or write elsewhere, or it is gone), it is dropped and the first worker
// is started as Prespawn does. A nil e is Prespawn.
func (m *Master) PrespawnEarly(e *earlyworker.Process) error {
	m.init()
	if len(m.Command) == 0 {
		e.Discard()
		return errors.New("appserver: Master.Prespawn: no Command to start workers with")
	}
	cred, err := workerCredential(m.Config.User, m.Config.Group)
	if err != nil {
		e.Discard()
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.ending || len(m.slots) > 0 {
		e.Discard()
		return nil
	}
	m.cred = cred
	s := &slot{id: 1}
	m.slots = append(m.slots, s)
	w, err := m.adoptLocked(s, e)
	if w == nil {
		if err != nil {
			m.logger().Debug("appserver: the early worker is dropped; starting the first worker", "err", err)
		}
		e.Discard()
		if w, err = m.spawnLocked(s); err != nil {
			return err
		}
	}
	s.cur = w
	return nil
}

// adoptLocked makes e the worker of s, waiting for the socket as a
// prespawned worker does; nil if e is nil or cannot be one. m.mu is held.
func (m *Master) adoptLocked(s *slot, e *earlyworker.Process) (*workerHandle, error) {
	out := m.Output
	if out == nil {
		out = os.Stderr
	}
	switch {
	case e == nil:
		return nil, nil
	case m.lf != nil || m.cred != nil || m.Command[0] != e.Exe || out != io.Writer(os.Stderr):
		return nil, errors.New("it cannot run as this master's worker (another binary, user or output)")
	}
	// The environment and files spawnLocked gives a worker, taken now.
	files, more, err := m.inherit()
	if err != nil {
		return nil, err
	}
	defer closeFiles(files)
	env := append(append(append(append(os.Environ(), m.Env...), awaitStartEnv+"=1"), more...), cpuShareEnv(m.Config.Processes)...)
	if err := e.Order(m.Command, env, files); err != nil {
		return nil, err
	}
	c, err := net.FileConn(e.Control)
	if err != nil {
		return nil, fmt.Errorf("appserver: the early worker's control channel: %w", err)
	}
	e.Control.Close()
	w := m.addWorkerLocked(s, e.Proc, newCtrlConn(c), true)
	w.early = true
	return w, nil
}

// listenerForSpawnLocked is the descriptor 3 and the extra environment of
// a new worker: the listening socket, or before Start a placeholder and
// the mark that makes the worker wait for it. m.mu is held.
func (m *Master) listenerForSpawnLocked() (*os.File, []string, error) {
	if m.lf != nil {
		return m.lf, m.Env, nil
	}
	ph, err := os.Open(os.DevNull)
	if err != nil {
		return nil, nil, fmt.Errorf("appserver: a placeholder for a prespawned worker's socket: %w", err)
	}
	return ph, append(slices.Clip(m.Env), awaitStartEnv+"=1"), nil
}

// startPrespawnedLocked hands the listening socket to s's worker if it
// is a prespawned one waiting for it, and says whether it was. A worker
// that cannot be told is dying: its exit respawns the slot. m.mu is held.
func (m *Master) startPrespawnedLocked(s *slot) bool {
	w := s.cur
	if w == nil || !w.awaiting {
		return false
	}
	m.handSocketLocked(w)
	return true
}

// handSocketLocked sends the listening socket to w, which waits for it.
// m.mu is held.
func (m *Master) handSocketLocked(w *workerHandle) {
	w.awaiting = false
	if err := w.cc.sendListener(m.lf); err != nil {
		m.logger().Warn("appserver: cannot hand the socket to the prespawned worker; it is replaced", "worker", w.slot.id, "pid", w.pid, "err", err)
		w.proc.Signal(syscall.SIGKILL)
		return
	}
	if w.slot.cur == w {
		m.killIfNotReadyLocked(w) // a reload's replacement has its own bound (awaitReady)
	}
}

// sendListener sends startByte with f's descriptor.
func (cc *ctrlConn) sendListener(f *os.File) error {
	uc, ok := cc.c.(*net.UnixConn)
	if !ok {
		return fmt.Errorf("control channel is a %T, not a Unix socket", cc.c)
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	cc.mu.Lock()
	defer cc.mu.Unlock()
	uc.SetWriteDeadline(time.Now().Add(5 * time.Second))
	var werr error
	if err := rc.Control(func(fd uintptr) {
		_, _, werr = uc.WriteMsgUnix([]byte{startByte}, syscall.UnixRights(int(fd)), nil)
	}); err != nil {
		return err
	}
	return werr
}

// AwaitStart is what a worker process runs before it builds its app. In a
// prespawned worker it waits for the master's listening socket and puts
// it at descriptor 3, where RunWorker finds it; started is false if the
// master stopped (or went away) first: the worker then exits 0 without
// building anything. In any other worker it returns at once.
func AwaitStart() (started bool, err error) {
	if os.Getenv(awaitStartEnv) == "" {
		return true, nil
	}
	os.Unsetenv(awaitStartEnv)
	// As in RunWorker: a ^C to the terminal's group (during the release)
	// is the master's to act on; it stops this worker itself.
	signal.Ignore(syscall.SIGINT, syscall.SIGHUP, syscall.SIGTERM)
	buf := make([]byte, 1)
	oob := make([]byte, syscall.CmsgSpace(4))
	var n, oobn int
	for {
		n, oobn, _, _, err = syscall.Recvmsg(workerControlFD, buf, oob, syscall.MSG_CMSG_CLOEXEC)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		return false, fmt.Errorf("appserver: worker waiting for the master's socket: %w", os.NewSyscallError("recvmsg", err))
	}
	if n == 0 || buf[0] != startByte {
		return false, nil
	}
	msgs, err := syscall.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		return false, fmt.Errorf("appserver: worker: the master's start came without its socket (%d messages, %v)", len(msgs), err)
	}
	fds, err := syscall.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		return false, fmt.Errorf("appserver: worker: the master's start came without its socket (%d descriptors, %v)", len(fds), err)
	}
	defer syscall.Close(fds[0])
	if err := syscall.Dup3(fds[0], workerListenFD, 0); err != nil {
		return false, fmt.Errorf("appserver: worker: placing the master's socket at descriptor %d: %w", workerListenFD, os.NewSyscallError("dup3", err))
	}
	return true, nil
}
