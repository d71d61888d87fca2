package supervisor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/stack-web/stack/internal/envnames"
)

// Process is a child process the supervisor runs, restarts and stops: an
// extra command from stack.yaml's processes, or a tier in subprocess mode.
type Process struct {
	// Name prefixes the child's output lines: "[name] ...".
	Name    string
	Command []string
	Dir     string
	Env     []string // added to the inherited environment
	// Restart is "always", "on-failure" or "never".
	Restart string
	// StartSecs, if positive, is how long the first run must last to count
	// as started (supervisord's startsecs). A child that exits sooner could
	// not start (a port in use, a bad configuration): instead of being
	// restarted forever, it stops the stack with an error, as nginx and
	// uWSGI exit when they cannot start. Later exits are restarted.
	StartSecs time.Duration
	// MaxBackoff, if positive, caps the wait before a child that keeps
	// dying is started again (30 s otherwise). A tier child's clients wait
	// in the sockets its parent holds while it is down, so its restarts
	// are capped short, as nginx starts a dead worker again at once.
	MaxBackoff time.Duration
	// Output receives the child's prefixed stdout and stderr lines.
	Output io.Writer
	// Lines says how they are prefixed: coloured, JSON passed through.
	Lines  LineStyle
	Logger *slog.Logger
	// SignalReady says the child tells when it handles signals (see
	// SignalsHandled): Signal holds what it is asked to send until then.
	// Until a Go program calls signal.Notify, SIGHUP kills it, and a tier
	// child spends its first milliseconds in the runtime's start, package
	// init and reading its configuration: a reload sent then (a deploy
	// right after a start) would kill the tier, and the stack with it.
	SignalReady bool
	// Inherit, if set, gives the files each run of the child inherits, from
	// descriptor firstFD on, and the environment entries that tell the
	// child their numbers. It is called before each start, so that a child
	// started again gets what holds then (listening sockets the parent
	// keeps open across a restart, the configuration of the last reload).
	// Its files are closed once the child has started, or failed to.
	Inherit func(firstFD int) (files []*os.File, env []string, err error)

	stable time.Duration // stableRun, unless a test sets it

	mu      sync.Mutex
	cmd     *exec.Cmd     // the running child, if any
	done    chan struct{} // closed when that child has been waited for
	ready   bool          // the running child handles signals (always, without SignalReady)
	held    []os.Signal   // what Signal was asked to send before ready
	stop    chan struct{} // closed by terminate
	stopped bool
}

// restart back-off: a child that keeps dying is restarted less and less
// often, and one that ran for a while (stableRun) starts again at once.
const (
	minBackoff = 500 * time.Millisecond
	maxBackoff = 30 * time.Second
	stableRun  = 10 * time.Second
)

func (p *Process) stableRun() time.Duration {
	if p.stable > 0 {
		return p.stable
	}
	return stableRun
}

// AddProcess adds p as an actor: it runs until interrupted, restarting p
// according to its policy; on interrupt the child gets SIGTERM, then
// SIGKILL if it outlives the shutdown deadline.
func (s *Supervisor) AddProcess(p *Process) {
	p.stop = make(chan struct{})
	if p.Logger == nil {
		p.Logger = s.Logger
	}
	if p.Output == nil {
		p.Output = os.Stderr
	}
	s.g.Add(p.supervise, func(error) {
		ctx, cancel := s.stopContext()
		defer cancel()
		p.terminate(ctx)
	})
}

// AddProcesses adds ps as one actor: they run side by side, each as
// AddProcess runs it, and an interrupt tells them all to stop at once and
// waits for them together, as nginx's master sends every worker its
// SIGQUIT. Children that serve the same sockets (the edge's, with
// edge.processes above 1) then drain in the time of the slowest, where
// actors of their own were stopped one after the other: the later ones
// went on taking connections, and the deadline cut what they had.
// The first of them that ends by itself (one that could not start) ends
// the group, as a single child's actor would.
func (s *Supervisor) AddProcesses(ps ...*Process) {
	for _, p := range ps {
		p.stop = make(chan struct{})
		if p.Logger == nil {
			p.Logger = s.Logger
		}
		if p.Output == nil {
			p.Output = os.Stderr
		}
	}
	ended := make(chan error, len(ps))
	var running sync.WaitGroup
	running.Add(len(ps)) // here: an interrupt may come before execute has started them all
	s.g.Add(func() error {
		for _, p := range ps {
			go func() {
				defer running.Done()
				ended <- p.supervise()
			}()
		}
		return <-ended
	}, func(error) {
		ctx, cancel := s.stopContext()
		defer cancel()
		var stopping sync.WaitGroup
		for _, p := range ps {
			stopping.Add(1)
			go func() {
				defer stopping.Done()
				p.terminate(ctx)
			}()
		}
		stopping.Wait()
		running.Wait() // each supervise returns once its child is told to stop
	})
}

// supervise runs the child until it should not be restarted or the
// process is stopped.
func (p *Process) supervise() error {
	backoff := minBackoff
	for first := true; ; first = false {
		started := time.Now()
		err := p.runOnce()
		select {
		case <-p.stop:
			return nil
		default:
		}
		var se *startError
		if first && errors.As(err, &se) {
			// The program cannot be run at all (missing, not executable,
			// no such dir): restarting it would only repeat this.
			return fmt.Errorf("process %s could not start: %w", p.Name, err)
		}
		if first && p.StartSecs > 0 && time.Since(started) < p.StartSecs {
			if err == nil {
				err = errors.New("exit status 0")
			}
			return fmt.Errorf("process %s exited during start-up: %w", p.Name, err)
		}
		failed := err != nil
		switch {
		case p.Restart == "never", p.Restart == "on-failure" && !failed:
			if failed {
				return fmt.Errorf("process %s: %w", p.Name, err)
			}
			p.Logger.Info("process exited", "process", p.Name)
			<-p.stop // the rest of the stack keeps running
			return nil
		}
		wait := backoff
		if p.MaxBackoff > 0 {
			wait = min(wait, p.MaxBackoff)
		}
		if time.Since(started) > p.stableRun() {
			// Started again at once, as supervisord does: a tier child's
			// clients wait in its sockets' queues meanwhile (cli keeps
			// them), and half a second more is half a second of delay
			// for each. Should it die again quickly, the back-off begins.
			wait, backoff = 0, minBackoff
		} else {
			backoff = min(2*backoff, maxBackoff)
		}
		p.Logger.Warn("process exited; restarting", "process", p.Name, "err", err, "after", wait)
		select {
		case <-time.After(wait):
		case <-p.stop:
			return nil
		}
	}
}

// runOnce starts the child and waits for it.
func (p *Process) runOnce() error {
	cmd := exec.Command(p.Command[0], p.Command[1:]...)
	cmd.Dir = p.Dir
	cmd.Env = append(os.Environ(), p.Env...)
	// Its own process group, so that a stop reaches its children too; and
	// killed with us if we die without stopping it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	out := p.Lines.writer(p.Output, p.Name)
	cmd.Stdout, cmd.Stderr = out, out
	// A grandchild that keeps the output pipe open must not keep Wait
	// from returning once the child itself has exited.
	cmd.WaitDelay = time.Second

	var readyR *os.File
	if p.SignalReady {
		r, w, err := os.Pipe()
		if err != nil {
			return &startError{fmt.Errorf("starting %q: %w", p.Command[0], err)}
		}
		readyR = r
		cmd.ExtraFiles = []*os.File{w}
		cmd.Env = append(cmd.Env, signalReadyEnv+"=3")
	}
	if p.Inherit != nil {
		files, env, err := p.Inherit(3 + len(cmd.ExtraFiles))
		if err != nil {
			closeAll(readyR, cmd.ExtraFiles)
			closeAll(nil, files)
			return fmt.Errorf("starting %q: %w", p.Command[0], err)
		}
		cmd.ExtraFiles = append(cmd.ExtraFiles, files...)
		cmd.Env = append(cmd.Env, env...)
	}

	p.mu.Lock()
	if p.stopped {
		p.mu.Unlock()
		closeAll(readyR, cmd.ExtraFiles)
		return nil
	}
	err := cmd.Start()
	// The child has its copies: the ready pipe's writer must be closed
	// here for its EOF once the child is gone, the inherited files for
	// whoever made them to be the only other holder.
	closeAll(nil, cmd.ExtraFiles)
	if err != nil {
		p.mu.Unlock()
		readyR.Close()
		return &startError{fmt.Errorf("starting %q: %w", p.Command[0], err)}
	}
	done := make(chan struct{})
	p.cmd, p.done, p.ready, p.held = cmd, done, !p.SignalReady, nil
	p.mu.Unlock()
	var watching sync.WaitGroup
	if readyR != nil {
		watching.Go(func() { p.awaitReady(readyR, cmd) })
	}
	p.Logger.Info("process started", "process", p.Name, "pid", cmd.Process.Pid)

	err = cmd.Wait()
	readyR.Close() // ends awaitReady if the child never told
	watching.Wait()
	// Whatever the child started in its group dies with it (supervisord's
	// killasgroup): a restart must not leave the last generation's
	// children running, nor may they outlive the stack. The group keeps
	// its id while any member lives, so this cannot reach a stranger.
	syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	out.flush()
	p.mu.Lock()
	p.cmd, p.held = nil, nil
	close(done)
	p.mu.Unlock()
	return err
}

// Signal sends sig to the running child itself (not to its group: a tier
// child passes a reload on to its own children as it sees fit). With no
// child running it does nothing: the next one reads the configuration
// afresh anyway.
func (p *Process) Signal(sig syscall.Signal) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return nil
	}
	if !p.ready {
		if !slices.Contains(p.held, os.Signal(sig)) {
			p.held = append(p.held, sig) // two reloads before it is ready are one
		}
		return nil
	}
	if err := p.cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("process %s: %w", p.Name, err)
	}
	return nil
}

// signalReadyEnv names the descriptor a child with SignalReady writes one
// byte to once it handles signals.
const signalReadyEnv = envnames.SignalReadyFD

// startedWithSignalReady is whether a Process with SignalReady started this
// program, read as the program starts (SignalsHandled unsets the variable).
var startedWithSignalReady = os.Getenv(signalReadyEnv) != ""

// StartedBySupervisor reports whether a Supervisor's Process with
// SignalReady started this program (a tier child of `stack up`'s mode:
// subprocess). Its parent's second SIGTERM is an order to end at once.
func StartedBySupervisor() bool { return startedWithSignalReady }

// awaitReady waits for cmd's word that it handles signals, then sends what
// Signal held meanwhile. It returns without sending if the child exits
// first (r is closed, or every copy of the pipe's write end is).
func (p *Process) awaitReady(r *os.File, cmd *exec.Cmd) {
	var b [1]byte
	if n, _ := r.Read(b[:]); n != 1 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != cmd {
		return
	}
	p.ready = true
	for _, sig := range p.held {
		cmd.Process.Signal(sig)
	}
	p.held = nil
}

// SignalsHandled tells the supervisor that started this process with
// SignalReady that this process now handles its signals (call it after
// signal.Notify). Elsewhere it does nothing.
func SignalsHandled() {
	v, ok := os.LookupEnv(signalReadyEnv)
	if !ok {
		return
	}
	os.Unsetenv(signalReadyEnv) // not for this process's own children
	fd, err := strconv.Atoi(v)
	if err != nil || fd < 3 {
		return
	}
	f := os.NewFile(uintptr(fd), "signal-ready")
	f.Write([]byte{1})
	f.Close()
}

func closeAll(r *os.File, files []*os.File) {
	r.Close()
	for _, f := range files {
		f.Close()
	}
}

// startError is a child that could not be started, as opposed to one
// that ran and exited.
type startError struct{ err error }

func (e *startError) Error() string { return e.err.Error() }
func (e *startError) Unwrap() error { return e.err }

// terminate stops the child: SIGTERM to its process group, then when ctx
// ends a last hurry (see hurry) and SIGKILL.
func (p *Process) terminate(ctx context.Context) {
	p.mu.Lock()
	p.stopped = true
	close(p.stop)
	cmd, done := p.cmd, p.done
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	pid := cmd.Process.Pid
	syscall.Kill(-pid, syscall.SIGTERM)
	select {
	case <-done:
	case <-ctx.Done():
		p.hurry(pid, done)
	}
}

// hurryGrace is how long a child told to stop now has before SIGKILL.
const hurryGrace = time.Second

// hurry ends a child's stop once the shared deadline has passed. The
// deadline counts from the first signal, so a tier stopped after one that
// used it all (the edge waiting on a client that reads nothing) gets none
// of it; SIGKILL then left that tier's socket file behind, with nothing of
// its own stop done. A second SIGTERM is a stack's "stop now": it kills its
// workers and removes its sockets at once. It is sent again until the child
// exits, since a signal sent while the first is still pending merges into
// it; SIGKILL to the group comes after hurryGrace.
func (p *Process) hurry(pid int, done <-chan struct{}) {
	p.Logger.Warn("process did not stop in time; telling it to stop now", "process", p.Name, "pid", pid)
	kill := time.NewTimer(hurryGrace)
	defer kill.Stop()
	again := time.NewTicker(100 * time.Millisecond)
	defer again.Stop()
	for {
		syscall.Kill(pid, syscall.SIGTERM)
		select {
		case <-done:
			return
		case <-again.C:
		case <-kill.C:
			p.Logger.Warn("process did not stop when told to stop now; killing it", "process", p.Name, "pid", pid)
			syscall.Kill(-pid, syscall.SIGKILL)
			<-done
			return
		}
	}
}
