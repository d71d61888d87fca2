package supervisor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestServersStopInOrderOnInterrupt(t *testing.T) {
	s := &Supervisor{Logger: quiet, ShutdownTimeout: 5 * time.Second}
	var mu sync.Mutex
	var order []string
	for _, name := range []string{"edge", "appserver"} {
		stop := make(chan struct{})
		s.AddServer(name, func() error { <-stop; return nil }, func(ctx context.Context) error {
			if _, ok := ctx.Deadline(); !ok {
				t.Error("shutdown context has no deadline")
			}
			time.Sleep(20 * time.Millisecond) // a drain that takes a while
			mu.Lock()
			order = append(order, name)
			mu.Unlock()
			close(stop)
			return nil
		})
	}
	trigger := make(chan struct{})
	s.Add(func() error { <-trigger; return errors.New("boom") }, func(error) {})
	go close(trigger)
	if err := s.Run(); err == nil || err.Error() != "boom" {
		t.Fatalf("Run = %v, want the first actor's error", err)
	}
	if strings.Join(order, ",") != "edge,appserver" {
		t.Errorf("stopped in order %v, want edge then appserver", order)
	}
}

func TestProcessRestartsAndStops(t *testing.T) {
	dir := t.TempDir()
	counter := filepath.Join(dir, "starts")
	// Each start appends a line; the first two runs exit with an error, the
	// third stays up until it gets SIGTERM, which it records. The trap is
	// set before "run 3" is printed, which the test waits for before it
	// stops the group: otherwise a SIGTERM could come first.
	script := `echo start >> "$1"; n=$(wc -l < "$1")
if [ "$n" -ge 3 ]; then trap 'echo term >> "$1"; exit 0' TERM; fi
echo "run $n"; echo "err $n" >&2
if [ "$n" -lt 3 ]; then exit 3; fi
while :; do sleep 0.05; done`
	out := &syncBuffer{}
	s := &Supervisor{Logger: quiet, ShutdownTimeout: 5 * time.Second}
	s.AddProcess(&Process{Name: "worker", Command: []string{"sh", "-c", script, "sh", counter}, Restart: "always", Output: out})
	trigger := make(chan struct{})
	s.Add(func() error { <-trigger; return nil }, func(error) {})
	done := make(chan error, 1)
	go func() { done <- s.Run() }()

	waitFor(t, "the third start", func() bool {
		b, _ := os.ReadFile(counter)
		return strings.Count(string(b), "start") == 3
	})
	waitFor(t, "the third run's output", func() bool { return strings.Contains(out.String(), "[worker] run 3") })
	close(trigger)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(counter)
	if !strings.HasSuffix(string(b), "term\n") {
		t.Errorf("child did not get SIGTERM: %q", b)
	}
	for _, want := range []string{"[worker] run 1\n", "[worker] err 1\n", "[worker] run 3\n"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestProcessKilledAfterDeadline(t *testing.T) {
	s := &Supervisor{Logger: quiet, ShutdownTimeout: 200 * time.Millisecond}
	out := &syncBuffer{}
	s.AddProcess(&Process{Name: "stubborn", Command: []string{"sh", "-c", `trap '' TERM; echo up; while :; do sleep 0.05; done`}, Restart: "always", Output: out})
	trigger := make(chan struct{})
	s.Add(func() error { <-trigger; return nil }, func(error) {})
	done := make(chan error, 1)
	go func() { done <- s.Run() }()
	waitFor(t, "the child to start", func() bool { return strings.Contains(out.String(), "[stubborn] up") })
	start := time.Now()
	close(trigger)
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("a child ignoring SIGTERM kept the supervisor from stopping")
	}
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Errorf("stopped after %v: SIGKILL came before the deadline", d)
	}
}

func TestPrepareRunDirCreates0700(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "run")
	if err := PrepareRunDir(dir); err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(dir)
	if fi.Mode().Perm() != 0o700 {
		t.Errorf("mode %v, want 0700", fi.Mode().Perm())
	}
}

// Issue 16 item 2: run_dir: . turned a 755 project directory into 700.
func TestPrepareRunDirLeavesAnExistingModeAlone(t *testing.T) {
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := PrepareRunDir(dir); err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(dir)
	if fi.Mode().Perm() != 0o755 {
		t.Errorf("mode %v, want the existing 0755 kept", fi.Mode().Perm())
	}
}

func TestPrepareRunDirRefusesWorldWritable(t *testing.T) {
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o1777); err != nil {
		t.Fatal(err)
	}
	err := PrepareRunDir(dir)
	if err == nil || !strings.Contains(err.Error(), "writable by every user") {
		t.Fatalf("err = %v, want a refusal", err)
	}
	fi, _ := os.Stat(dir)
	if fi.Mode().Perm() != 0o777 {
		t.Errorf("mode changed to %v", fi.Mode().Perm())
	}
}

// alive reports whether pid runs (a zombie waiting for its reaper is dead).
// outlives reports whether pid is still alive a while after it was sent
// SIGKILL: the kernel ends a killed process when it next runs, a moment
// later on a busy machine.
func outlives(pid int) bool {
	deadline := time.Now().Add(5 * time.Second)
	for alive(pid) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	return alive(pid)
}

func alive(pid int) bool {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

// Issue 15 item 9: a restarted child's own children, and the last
// generation's at stop, are killed with it.
func TestProcessGroupIsKilledOnExitAndStop(t *testing.T) {
	pids := filepath.Join(t.TempDir(), "pids")
	s := &Supervisor{Logger: quiet, ShutdownTimeout: 5 * time.Second}
	s.AddProcess(&Process{Name: "p", Command: []string{"sh", "-c", `sleep 300 & echo $! >> "$1"; sleep 0.3; exit 3`, "sh", pids}, Restart: "always", Output: io.Discard})
	trigger := make(chan struct{})
	s.Add(func() error { <-trigger; return nil }, func(error) {})
	done := make(chan error, 1)
	go func() { done <- s.Run() }()
	var list []int
	read := func() {
		b, _ := os.ReadFile(pids)
		list = list[:0]
		for _, f := range strings.Fields(string(b)) {
			n, _ := strconv.Atoi(f)
			list = append(list, n)
		}
	}
	waitFor(t, "a second generation", func() bool { read(); return len(list) >= 2 })
	waitFor(t, "the first generation's sleep to be killed", func() bool { return !alive(list[0]) })
	close(trigger)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	read()
	for _, pid := range list {
		if outlives(pid) {
			t.Errorf("sleep 300 (pid %d) outlived the supervisor", pid)
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// Issue 16 item 7: a child that exits during start-up stops the stack
// with an error instead of being restarted forever.
func TestProcessExitingDuringStartupFails(t *testing.T) {
	s := &Supervisor{Logger: quiet, ShutdownTimeout: time.Second}
	s.AddProcess(&Process{Name: "edge", Command: []string{"sh", "-c", "exit 1"}, Restart: "always", StartSecs: 2 * time.Second, Output: io.Discard})
	stop := make(chan struct{})
	s.Add(func() error { <-stop; return nil }, func(error) { close(stop) })
	done := make(chan error, 1)
	go func() { done <- s.Run() }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "edge exited during start-up") {
			t.Fatalf("err = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a child failing at start-up was restarted instead of stopping the stack")
	}
}

// A program that cannot be started at all (not found, not executable, a
// missing dir) was restarted with back-off forever while the stack looked
// healthy. On its first run it now stops the stack with the reason; a
// later start failure (the binary replaced during a deploy) is retried.
func TestProcessThatCannotStartStopsTheStack(t *testing.T) {
	for _, p := range []*Process{
		{Name: "missing", Command: []string{"no-such-program-anywhere"}},
		{Name: "nodir", Command: []string{"sleep", "5"}, Dir: filepath.Join(t.TempDir(), "gone")},
		{Name: "dir", Command: []string{t.TempDir()}},
	} {
		p.Restart, p.Output = "always", io.Discard
		s := &Supervisor{Logger: quiet, ShutdownTimeout: time.Second}
		s.AddProcess(p)
		stop := make(chan struct{})
		s.Add(func() error { <-stop; return nil }, func(error) { close(stop) })
		done := make(chan error, 1)
		go func() { done <- s.Run() }()
		select {
		case err := <-done:
			if err == nil || !strings.Contains(err.Error(), "process "+p.Name+" could not start: starting") {
				t.Errorf("%s: err = %v", p.Name, err)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: a program that cannot start is restarted instead of stopping the stack", p.Name)
		}
	}
}

// A child stopped after another one used the whole shared deadline got
// SIGKILL at once, with nothing of its own stop done (a tier child's
// workers and socket file were left). It is told to stop now (a second
// SIGTERM) and gets hurryGrace for it before SIGKILL.
func TestProcessStoppedAfterTheDeadlineIsToldToStopNow(t *testing.T) {
	dir := t.TempDir()
	cleaned := filepath.Join(dir, "cleaned")
	s := &Supervisor{Logger: quiet, ShutdownTimeout: 300 * time.Millisecond}
	out := &syncBuffer{}
	// Uses the whole deadline, as an edge waiting on a slow reader.
	s.AddProcess(&Process{Name: "edge", Command: []string{"sh", "-c", `trap '' TERM; echo up; while :; do sleep 0.05; done`}, Restart: "always", Output: out})
	// A graceful stop that takes long; a second SIGTERM means stop now,
	// after its clean-up.
	s.AddProcess(&Process{Name: "appserver", Command: []string{"sh", "-c",
		`n=0; trap 'n=$((n+1)); if [ $n -ge 2 ]; then touch "$1"; exit 0; fi' TERM; echo up; while :; do sleep 0.05; done`, "sh", cleaned},
		Restart: "always", Output: out})
	trigger := make(chan struct{})
	s.Add(func() error { <-trigger; return nil }, func(error) {})
	done := make(chan error, 1)
	go func() { done <- s.Run() }()
	waitFor(t, "both children to start", func() bool { return strings.Count(out.String(), "] up") == 2 })
	start := time.Now()
	close(trigger)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the supervisor did not stop")
	}
	t.Logf("stopped in %v", time.Since(start))
	if _, err := os.Stat(cleaned); err != nil {
		t.Errorf("the second child was killed without being told to stop now: %v", err)
	}
}

// A reload's new shutdown_timeout bounds the next stop.
func TestSetShutdownTimeoutBoundsTheNextStop(t *testing.T) {
	s := &Supervisor{Logger: quiet, ShutdownTimeout: time.Hour}
	s.SetShutdownTimeout(time.Second)
	ctx, cancel := s.stopContext()
	defer cancel()
	if d, ok := ctx.Deadline(); !ok || time.Until(d) > time.Minute {
		t.Errorf("deadline %v from now, want the new second", time.Until(d))
	}
	s.SetShutdownTimeout(time.Hour) // a stop under way keeps its deadline
	if d, _ := s.stopCtx.Deadline(); time.Until(d) > time.Minute {
		t.Errorf("the stop under way took the new timeout")
	}
	s.stopNow()
}

// TestProcessInheritsFilesFreshEachStart: every start of a child gets the
// files Inherit gives at that moment, at the descriptors it was told, and
// the parent's copies are closed once the child has them.
func TestProcessInheritsFilesFreshEachStart(t *testing.T) {
	var (
		mu    sync.Mutex
		given []*os.File
		fds   []int
	)
	inherit := func(firstFD int) ([]*os.File, []string, error) {
		mu.Lock()
		defer mu.Unlock()
		r, w, err := os.Pipe()
		if err != nil {
			return nil, nil, err
		}
		fmt.Fprintf(w, "generation %d\n", len(given)+1)
		w.Close()
		given, fds = append(given, r), append(fds, firstFD)
		return []*os.File{r}, []string{"GEN_FD=" + strconv.Itoa(firstFD)}, nil
	}
	// The first run prints what it inherited and fails; the second prints
	// and stays up.
	script := `cat /proc/self/fd/$GEN_FD; echo start >> "$1"
if [ "$(wc -l < "$1")" -lt 2 ]; then exit 3; fi
while :; do sleep 0.05; done`
	counter := filepath.Join(t.TempDir(), "starts")
	out := &syncBuffer{}
	s := &Supervisor{Logger: quiet, ShutdownTimeout: 5 * time.Second}
	s.AddProcess(&Process{Name: "child", Command: []string{"sh", "-c", script, "sh", counter},
		Restart: "always", SignalReady: true, Inherit: inherit, Output: out})
	trigger := make(chan struct{})
	s.Add(func() error { <-trigger; return nil }, func(error) {})
	done := make(chan error, 1)
	go func() { done <- s.Run() }()
	waitFor(t, "the second run's output", func() bool { return strings.Contains(out.String(), "[child] generation 2") })
	close(trigger)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "[child] generation 1\n") {
		t.Errorf("the first run did not read its file:\n%s", out.String())
	}
	mu.Lock()
	defer mu.Unlock()
	for i, f := range given {
		if fds[i] != 4 { // 3 is the ready pipe
			t.Errorf("start %d: files from descriptor %d, want 4", i+1, fds[i])
		}
		if f.Fd() != ^uintptr(0) {
			t.Errorf("start %d: the parent's copy of the inherited file is still open", i+1)
		}
	}
}
