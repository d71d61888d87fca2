// Package supervisor runs the stack's long-running parts as actors of one
// oklog/run group: each is an execute function that blocks and an
// interrupt function that makes it return. When the first actor returns
// (a signal, a crash), every other one is interrupted, in the order they
// were added, and Run waits for all of them.
//
// Order matters on the way down: the edge is interrupted before the app
// server, and its interrupt waits until the requests in flight have their
// answers, so no request that reached the edge finds its app server gone.
package supervisor

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/oklog/run"
)

// Supervisor composes actors. Add them, then Run once.
type Supervisor struct {
	// Logger receives lifecycle lines ("stopping edge", "edge stopped").
	Logger *slog.Logger
	// ShutdownTimeout bounds the whole graceful stop: every actor shares
	// one deadline, counted from the first interrupt.
	ShutdownTimeout time.Duration
	// ExitAfterRun says the program exits once Run returns (cli.Main's
	// stack commands): the signals AddSignals caught then stay caught
	// until the exit, and one that comes after the stop is dropped (the
	// first logged at info). Given their default action back as Run
	// returned, a second SIGTERM then (a supervisor or `docker stop`
	// repeating it, ^C twice, a deploy's SIGHUP) ended the process by the
	// signal, status 143, 130 or 129 instead of the stop's 0, with what
	// was left of its cleanup skipped; a race build's second of sleep at
	// exit made that window wide. Leave it false in a program that goes on after Run (a
	// test, a library caller running the stack more than once): its
	// SIGINT and SIGTERM must get their default back.
	ExitAfterRun bool

	mu       sync.Mutex // guards ShutdownTimeout once Run has started
	g        run.Group
	once     sync.Once
	stopCtx  context.Context // ends at the shared deadline, or at once on a second signal
	hurry    context.CancelFunc
	reloads  sync.WaitGroup // a SIGHUP reload under way, the signal watcher while stopping
	unsignal func()         // ends the signals' capture, set once stopping
	stopping []func()       // OnStopping's hooks
	stopOnce sync.Once
}

// OnStopping registers fn to run once, when the stop begins: at the
// SIGINT or SIGTERM, before any actor is interrupted (so before the edge
// drains), or when the first actor returns. The admin's /readyz turns 503
// there, so that a load balancer stops sending before the drain starts.
// Register before Run; fn must not block.
func (s *Supervisor) OnStopping(fn func()) {
	s.stopping = append(s.stopping, fn)
}

// beginStop runs the OnStopping hooks, once.
func (s *Supervisor) beginStop() {
	s.stopOnce.Do(func() {
		for _, fn := range s.stopping {
			fn()
		}
	})
}

// stopContext returns a context that ends at the shared shutdown
// deadline, or earlier when a second SIGINT or SIGTERM asks to stop now.
func (s *Supervisor) stopContext() (context.Context, context.CancelFunc) {
	s.beginStop()
	s.startStop()
	return context.WithCancel(s.stopCtx)
}

// startStop starts the shutdown clock, once.
func (s *Supervisor) startStop() {
	s.once.Do(func() {
		s.mu.Lock()
		d := s.ShutdownTimeout
		s.mu.Unlock()
		s.stopCtx, s.hurry = context.WithTimeout(context.Background(), d)
	})
}

// SetShutdownTimeout changes ShutdownTimeout while the supervisor runs (a
// reload's new shutdown_timeout). A stop already under way keeps its
// deadline.
func (s *Supervisor) SetShutdownTimeout(d time.Duration) {
	s.mu.Lock()
	s.ShutdownTimeout = d
	s.mu.Unlock()
}

// stopNow ends the grace period: every stop context is done.
func (s *Supervisor) stopNow() {
	s.startStop()
	s.hurry()
}

// Add adds a raw actor.
func (s *Supervisor) Add(execute func() error, interrupt func(error)) {
	s.g.Add(execute, interrupt)
}

// AddServer adds a server: serve blocks until shutdown makes it return;
// shutdown stops it gracefully within the shared deadline.
func (s *Supervisor) AddServer(name string, serve func() error, shutdown func(context.Context) error) {
	s.g.Add(func() error {
		if err := serve(); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		return nil
	}, func(error) {
		s.Logger.Info("stopping " + name)
		ctx, cancel := s.stopContext()
		defer cancel()
		if err := shutdown(ctx); err != nil {
			s.Logger.Warn(name+": graceful stop incomplete", "err", err)
		}
		s.Logger.Info(name + " stopped")
	})
}

// AddSignals adds the actor that turns SIGINT and SIGTERM into a graceful
// stop. SIGHUP calls reload (if nil, it is logged and ignored: by default
// SIGHUP would kill the process).
//
// A reload runs on its own goroutine: a chain reload may wait up to
// worker_ready_timeout for a new worker, and a SIGTERM sent meanwhile must
// stop the stack at once, not after the reload. Reloads never overlap:
// SIGHUPs that arrive during one are folded into one more reload after it,
// so a storm of them costs at most two. Run waits for a reload under way
// (the tiers' stop makes it return).
func (s *Supervisor) AddSignals(reload func()) {
	s.AddSignalsFrom(make(chan os.Signal, 2), false, reload)
}

// AddSignalsFrom is AddSignals that takes over sigs, a channel that has
// held SIGHUP, SIGINT and SIGTERM (signal.Notify) while the program
// started, instead of a channel of its own: a held SIGINT or SIGTERM stops
// the stack as soon as Run starts. os/signal gives a signal to every channel registered
// for it when its loop gets to it, so while a holding channel and the
// supervisor's were both registered, one SIGHUP came out of both: with
// the held one sent again, a reload at start was done twice. A SIGHUP
// held in sigs is one reload when Run starts if reloadHeld, else dropped.
func (s *Supervisor) AddSignalsFrom(sigs chan os.Signal, reloadHeld bool, reload func()) {
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	IgnoreBrokenPipes()
	// What it holds is taken now, leaving room for a SIGTERM before Run.
	var early []os.Signal
	for drained := false; !drained; {
		select {
		case sig := <-sigs:
			if sig != syscall.SIGHUP || reloadHeld && !slices.Contains(early, sig) {
				early = append(early, sig)
			}
		default:
			drained = true
		}
	}
	done := make(chan struct{})
	s.g.Add(func() error {
		var (
			running bool          // a reload goroutine is under way
			pending bool          // a SIGHUP came during it
			ended   chan struct{} // the running reload's end
		)
		start := func() {
			running, pending = true, false
			ended = make(chan struct{})
			fin := ended
			s.reloads.Go(func() {
				defer close(fin)
				s.Logger.Info("SIGHUP: reloading")
				reload()
			})
		}
		// handle acts on sig and says whether it stops the stack.
		handle := func(sig os.Signal) bool {
			if sig == syscall.SIGHUP {
				switch {
				case reload == nil:
					s.Logger.Warn("SIGHUP: reload is not available in this mode; ignoring it")
				case running:
					pending = true
				default:
					start()
				}
				return false
			}
			s.Logger.Info("received " + sig.String() + "; stopping gracefully")
			s.beginStop()
			return true
		}
		for _, sig := range early {
			if handle(sig) {
				return run.SignalError{Signal: sig}
			}
		}
		for {
			select {
			case sig := <-sigs:
				if handle(sig) {
					return run.SignalError{Signal: sig}
				}
			case <-ended:
				running, ended = false, nil
				if pending {
					start()
				}
			case <-done:
				return nil
			}
		}
	}, func(error) {
		close(done)
		// The signals stay caught until Run returns (to the exit with
		// ExitAfterRun): once Stop had restored their default action, a
		// SIGHUP (a reload sent by a deploy script) or a second SIGTERM
		// during the graceful stop would kill the process at once, losing
		// the requests in flight, leaving the socket files behind and the
		// children's process groups running. A SIGHUP is ignored; a second
		// SIGINT or SIGTERM (Ctrl-C twice) ends the grace period at once
		// instead: the children get SIGKILL, as at the deadline.
		quit := make(chan struct{})
		s.unsignal = func() {
			if !s.ExitAfterRun {
				signal.Stop(sigs)
			}
			close(quit)
		}
		// over reports whether Run is returning (quit closed). With
		// ExitAfterRun, sigs then goes on to dropUntilExit, sig first: a
		// signal taken now came after the stop, not during it.
		over := func(sig os.Signal) bool {
			select {
			case <-quit:
			default:
				return false
			}
			if s.ExitAfterRun {
				go s.dropUntilExit(sig, sigs) // to the exit: not one of reloads
			}
			return true
		}
		s.reloads.Go(func() {
			for {
				select {
				case sig := <-sigs:
					if s.ExitAfterRun && over(sig) {
						return
					}
					if sig == syscall.SIGHUP {
						s.Logger.Info("received SIGHUP while stopping; ignoring it") // no warning: a stop drops a reload (cli: "reload ignored: stopping")
						continue
					}
					s.Logger.Warn("received " + sig.String() + " during the graceful stop; stopping now")
					s.stopNow()
				case <-quit:
					over(nil)
					return
				}
			}
		})
	})
}

// dropUntilExit reads sigs, still registered, until the program exits:
// the stop is over, and nothing is left for a signal to do. The first
// is logged, so that a second ^C that seems to do nothing is explained;
// a storm of them is not.
func (s *Supervisor) dropUntilExit(sig os.Signal, sigs <-chan os.Signal) {
	if sig == nil {
		sig = <-sigs
	}
	s.Logger.Info("received " + sig.String() + " after the stop, as the process exits; ignoring it")
	for range sigs {
	}
}

// IgnoreBrokenPipes keeps a server alive when the reader of its stdout or
// stderr goes away (`stack up | head`, a log shipper restarted): a Go
// program otherwise dies of SIGPIPE on the next log line, dropping its
// requests and leaving its socket files. The write fails instead, as in
// nginx and uWSGI, which ignore SIGPIPE. The signal is caught, not
// ignored, so child processes still start with its default action.
func IgnoreBrokenPipes() {
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)
}

// Run runs every actor until the first returns, then stops them all. A
// stop caused by SIGINT or SIGTERM is a clean exit: Run returns nil.
func (s *Supervisor) Run() error {
	err := s.g.Run()
	s.beginStop()
	if s.unsignal != nil {
		s.unsignal()
	}
	s.reloads.Wait()
	s.stopNow() // releases the deadline's timer
	var se run.SignalError
	if errors.As(err, &se) {
		return nil
	}
	return err
}

// PrepareRunDir creates the run directory with mode 0700 (sockets, data
// and temporary files live there, and nobody else should reach them). An
// existing directory keeps its mode: run_dir may be a project directory
// that other users read, and changing it behind their back locks them
// out. One that every user may write to (/tmp) is refused, since anyone
// could then replace the sockets in it; config.CheckRunDir says the same
// to `stack check`.
func PrepareRunDir(dir string) error {
	fi, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("run_dir: creating %s: %w", dir, err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("run_dir: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("run_dir: %s is not a directory", dir)
	}
	if fi.Mode().Perm()&0o002 != 0 {
		return fmt.Errorf("run_dir: %s is writable by every user (mode %04o); give the stack a directory of its own, e.g. run", dir, fi.Mode().Perm())
	}
	return nil
}
