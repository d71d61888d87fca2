package e2e

import (
	"fmt"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Signals in the first milliseconds of a start, sent to the whole process
// group as a terminal's ^C or hang-up and `kill -- -PGID` send them: they
// reach the master and the workers it is starting. Each signal is sent once
// the processes have initialised package earlyhup/hold (seen in their
// GODEBUG=inittrace=1 lines): before that, the Go runtime's own start, no
// Go program has a hook, and the signal's default action applies.

// holdInit is the package that holds the signals, as its inittrace line
// names it: the runtime writes the line in pieces, and the master's and
// its early worker's interleave, but a piece is one write (atomic on a
// pipe).
const holdInit = "github.com/stack-web/stack/internal/earlyhup/hold"

// A SIGTERM or SIGINT to `stack up`'s group during its package init (and
// its early worker's) ended it by the signal, exit status -1, where the
// README promises a graceful stop's 0; a SIGHUP must be a reload. Either
// way no worker may be left, nor a socket file.
func TestBrkGroupSignalsWhileUpStarts(t *testing.T) {
	holds := 1
	if runtime.GOMAXPROCS(0) >= 2 {
		holds = 2 // the master and its early worker (package launch)
	}
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP} {
		for _, after := range []time.Duration{0, 3 * time.Millisecond, 10 * time.Millisecond} {
			what := fmt.Sprintf("%v to the group %v after the hold", sig, after)
			dir := writeConfig(t, configBase+"  processes: 1\n")
			p := configStartAs(t, dir, traceEnv(), true, "up")
			if !p.waitCount(0, holdInit, holds, 20*time.Second) {
				t.Fatalf("%s: the hold was never initialised:\n%s", what, p.output())
			}
			time.Sleep(after)
			syscall.Kill(-p.cmd.Process.Pid, sig)
			if sig == syscall.SIGHUP {
				addr := p.serving(30 * time.Second)
				if addr == "" {
					t.Fatalf("%s: the stack did not survive:\n%s", what, p.output())
				}
				if !p.waitCount(0, "SIGHUP: reloading", 1, 10*time.Second) {
					t.Fatalf("%s: no reload:\n%s", what, p.output())
				}
				if code, _, _ := get(t, addr); code != 200 {
					t.Fatalf("%s: GET / = %d:\n%s", what, code, p.output())
				}
				if code := p.stopWith(syscall.SIGTERM); code != 0 {
					t.Fatalf("%s: exit %d after SIGTERM:\n%s", what, code, p.output())
				}
			} else if code, ok := p.exit(30 * time.Second); !ok || code != 0 {
				t.Fatalf("%s: exit %d (ended: %v), want a graceful stop's 0:\n%s", what, code, ok, p.output())
			}
			if strings.Contains(p.output(), "worker died") {
				t.Fatalf("%s: a worker died:\n%s", what, p.output())
			}
			assertNothingLeft(t, what, dir, p)
		}
	}
}

// A SIGHUP to the group while a reload's new worker started killed that
// worker: it held the signal from its package init and sent it to itself
// again once main ran, and was not ignoring it yet while it built its app
// (only RunWorker did). The reload failed ("the new worker exited before
// it was ready: signal: hangup") and the old workers kept the old
// configuration. A worker now ignores the three signals from its package
// init, and runs in a process group of its own: its master acts on them.
func TestBrkGroupHangupWhileAReloadsWorkerStarts(t *testing.T) {
	dir := writeConfig(t, configBase+"  processes: 1\n")
	p := configStartAs(t, dir, traceEnv(), true, "up", "--log-level", "info")
	addr := p.serving(30 * time.Second)
	if addr == "" {
		t.Fatalf("not serving:\n%s", p.output())
	}
	for _, after := range []time.Duration{0, 5 * time.Millisecond, 15 * time.Millisecond} {
		from := len(p.output())
		p.cmd.Process.Signal(syscall.SIGHUP) // a chain reload: a new worker starts
		if !p.waitCount(from, holdInit, 1, 20*time.Second) {
			t.Fatalf("no new worker started:\n%s", p.output()[from:])
		}
		time.Sleep(after)
		syscall.Kill(-p.cmd.Process.Pid, syscall.SIGHUP) // the master folds it into one more reload
		assertTwoReloads(t, p, from, fmt.Sprintf("SIGHUP to the group %v after the new worker's hold", after))
		if code, _, _ := get(t, addr); code != 200 {
			t.Fatalf("GET / = %d after the reloads:\n%s", code, p.output())
		}
	}
	if code := p.stopWith(syscall.SIGTERM); code != 0 {
		t.Fatalf("exit %d after SIGTERM:\n%s", code, p.output())
	}
	assertNothingLeft(t, "after the reloads", dir, p)
}

// A group SIGHUP as a reload's new worker execs: its Go runtime's start,
// before any of its Go code runs, had the signal's default action, which
// killed the worker (and failed the reload) in about one round in three
// when the signal was sent blind a few ms into the reload on a busy 2-CPU
// machine. Workers now run in process groups of their own: the group's
// signals are the master's. The signal is sent as soon as the new worker
// has exec'd (/proc: a child of the master running appserver-worker),
// when it is in that start.
func TestBrkGroupHangupAsAReloadsWorkerExecs(t *testing.T) {
	dir := writeConfig(t, configBase+"  processes: 1\n")
	p := configStartAs(t, dir, traceEnv()[1:], true, "up", "--log-level", "info")
	if p.serving(30*time.Second) == "" {
		t.Fatalf("not serving:\n%s", p.output())
	}
	master := p.cmd.Process.Pid
	for round := range 3 {
		old := workerChildren(master)
		from := len(p.output())
		p.cmd.Process.Signal(syscall.SIGHUP)
		pid, pgid := 0, 0
		for deadline := time.Now().Add(20 * time.Second); pid == 0; time.Sleep(50 * time.Microsecond) {
			for k, g := range workerChildren(master) {
				if _, seen := old[k]; !seen {
					pid, pgid = k, g
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("round %d: no new worker:\n%s", round, p.output()[from:])
			}
		}
		syscall.Kill(-master, syscall.SIGHUP)
		if pgid == master {
			t.Errorf("round %d: the new worker %d is in the master's process group", round, pid)
		}
		assertTwoReloads(t, p, from, fmt.Sprintf("round %d, the group's SIGHUP as worker %d execs", round, pid))
	}
	if code := p.stopWith(syscall.SIGTERM); code != 0 {
		t.Fatalf("exit %d after SIGTERM:\n%s", code, p.output())
	}
}

// assertTwoReloads waits until two reloads of the appserver have ended in
// p's output from offset from, and fails t if one failed or a worker died.
func assertTwoReloads(t *testing.T, p *configProc, from int, what string) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		out := p.output()[from:]
		if strings.Count(out, "msg=reloaded tier=appserver")+strings.Count(out, "reload failed") >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: the two reloads did not end:\n%s", what, out)
		}
	}
	if out := p.output()[from:]; strings.Contains(out, "reload failed") || strings.Contains(out, "worker died") {
		t.Fatalf("%s:\n%s", what, out)
	}
}

// A second SIGTERM after a first one had stopped `up` as it started
// ("stopping before anything runs") ended it by the signal, exit status
// 143, where a supervisor sending TERM twice expects the first one's
// graceful 0: the hold was stopped on the way out, and the default action
// was back until the exit. After the line, SIGTERMs are sent back to back
// until the process has exited: that window is some microseconds in a
// plain build, a second in a race build (its sleep at exit). A round
// whose first SIGTERM came too late for the hold (the stack went on) is
// tried again, and the test fails if none hit it.
func TestBrkSecondSIGTERMWhileStoppingAtStartIsAbsorbed(t *testing.T) {
	const stopping = "while starting; stopping before anything runs"
	hit := 0
	for round := 0; hit < 3 && round < 20; round++ {
		dir := writeConfig(t, configBase+"  processes: 1\n")
		// Not quickExit: a race build keeps its second's sleep at exit.
		p := configStart(t, dir, []string{"GODEBUG=inittrace=1"}, "up")
		if !p.waitCount(0, holdInit, 1, 20*time.Second) {
			t.Fatalf("round %d: the hold was never initialised:\n%s", round, p.output())
		}
		p.cmd.Process.Signal(syscall.SIGTERM)
		if !p.waitCount(0, stopping, 1, 20*time.Second) {
			p.exit(30 * time.Second) // too late for the hold: stopped otherwise
			continue
		}
		hit++
		begin, sent := time.Now(), 0
		for ended := false; !ended; {
			select {
			case <-p.done:
				ended = true
			default:
				p.cmd.Process.Signal(syscall.SIGTERM)
				sent++
			}
		}
		t.Logf("round %d: %d more SIGTERMs in the %v up took to exit", round, sent, time.Since(begin).Round(time.Millisecond))
		if code, _ := p.exit(time.Second); code != 0 {
			t.Fatalf("round %d: exit %d, want the first SIGTERM's 0 (the second absorbed):\n%s", round, code, p.output())
		}
		assertNothingLeft(t, fmt.Sprintf("round %d", round), dir, p)
	}
	if hit == 0 {
		t.Fatal("no first SIGTERM came while up started, before its release")
	}
}
