// Package earlyworker starts the appserver's first worker process while
// this program is still initialising its packages, so that the worker's
// own start (the runtime and package init of a ~20 MB binary with
// prometheus, protobuf and SQLite's libc: ~9 ms, most of a fresh stack's
// wait for its first page) runs beside the master's instead of after it.
//
// At that point nothing is parsed: not the configuration, so not for
// sure whether the master will run worker processes. The process is
// started on 2 CPUs or more when a peek at what sets appserver.processes
// (a --set, STACK_APPSERVER_PROCESSES, the file's text) finds a number
// above 0, and it is a worker without orders: it initialises, then
// waits (Await, first thing in main) for the master to send it the
// command line and environment it would have been started with
// (Process.Order). The master, once it has read its configuration, either
// adopts it as its first worker (appserver/prefork: Master.PrespawnEarly)
// or drops it (Discard): the early process then exits 0 without
// reading anything. A master that dies takes it along (its end of the
// channel closes; Pdeathsig on a SIGKILL).
//
// The process and its channel are this process's, as signals are: one of
// each at most, taken once.
package earlyworker

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// envMark marks an early process's environment: it waits for its orders
// on ControlFD before anything else.
const envMark = "STACK_EARLY_WORKER"

// ownProcs is envMark's value when Start set GOMAXPROCS itself.
const ownProcs = "gomaxprocs"

// ControlFD is the early process's end of its channel to the master; it
// stays the worker's control channel once the orders are in (the
// appserver's workers talk to their master on descriptor 4). Descriptor 3
// is /dev/null, holding the number of the listening socket to come.
const ControlFD = 4

// Process is an early worker process, started by Start, and the master's
// end of its channel.
type Process struct {
	Proc    *os.Process
	Control *os.File
	// Exe is the binary it runs: a master whose worker command names
	// another one must not adopt it.
	Exe string
}

var (
	mu    sync.Mutex
	early *Process
)

// Start starts the early worker if args (os.Args) run a command whose
// master may want one: `up` or `appserver` (the first word that is not a
// flag or a flag's value). Package start calls it from its init. A
// failure is silent: the master then starts its first worker itself.
func Start(args []string, commands ...string) {
	// On one CPU the two starts would only take turns: nothing gained,
	// and a configuration without worker processes would wait for both.
	if os.Getenv(envMark) != "" || runtime.GOMAXPROCS(0) < 2 || !runs(args, commands) || !wantsWorkers(args, os.Getenv) {
		return
	}
	exe, err := os.Executable()
	if err != nil {
		return
	}
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return
	}
	mine, theirs := os.NewFile(uintptr(fds[0]), "early worker control"), os.NewFile(uintptr(fds[1]), "control")
	defer theirs.Close()
	null, err := os.Open(os.DevNull)
	if err != nil {
		mine.Close()
		return
	}
	defer null.Close()
	// A worker's runtime gets its share of the CPUs (with 2 workers or
	// more, half of them at most: appserver/prefork's cpuShareEnv): an
	// init on every P leaves each P's cached spans half used, 0.7 MB more
	// PSS. Await puts the share the orders give, or the default, in place.
	env := append(os.Environ(), envMark+"=1")
	if os.Getenv("GOMAXPROCS") == "" {
		share := (runtime.GOMAXPROCS(0) + 1) / 2
		env = append(os.Environ(), envMark+"="+ownProcs, "GOMAXPROCS="+strconv.Itoa(share))
	}
	// The command line a worker has, so that ps shows what it is; its
	// real one comes with the orders.
	p, err := os.StartProcess(exe, []string{exe, "appserver-worker"}, &os.ProcAttr{
		Env:   env,
		Files: []*os.File{null, os.Stderr, os.Stderr, null, theirs},
		// The main thread forks it during init: its exit is the process's.
		Sys: &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL},
	})
	if err != nil {
		mine.Close()
		return
	}
	mu.Lock()
	early = &Process{Proc: p, Control: mine, Exe: exe}
	mu.Unlock()
}

// runs reports whether the command args name is one of commands. The
// stack's flags that take a value as the next word are skipped with it.
func runs(args []string, commands []string) bool {
	for i := 1; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "-h" || a == "--help" || a == "--":
			return false
		case a == "-c" || a == "--config" || a == "--set" || a == "--log-level":
			i++
		case strings.HasPrefix(a, "-"):
		default:
			for _, c := range commands {
				if a == c {
					return true
				}
			}
			return false
		}
	}
	return false
}

// wantsWorkers peeks at what sets appserver.processes, without parsing
// the configuration (this runs in package init, before its libraries are
// ready): the last --set of it, else STACK_APPSERVER_PROCESSES, else the
// text of the file (--config, or stack.yaml) has "processes: N" with N
// above 0. A miss only loses the early start; a wrong guess costs a
// process start beside the master's, dropped (measured: 2 ms later to the
// first 200 of an in-process app on 2 CPUs, which is why it is not
// started blind).
func wantsWorkers(args []string, getenv func(string) string) bool {
	path, set := "stack.yaml", ""
	for i := 1; i < len(args); i++ {
		a, v := args[i], ""
		switch {
		case (a == "-c" || a == "--config") && i+1 < len(args):
			i++
			path = args[i]
		case strings.HasPrefix(a, "--config="):
			path = a[len("--config="):]
		case a == "--set" && i+1 < len(args):
			i++
			v = args[i]
		case strings.HasPrefix(a, "--set="):
			v = a[len("--set="):]
		}
		if n, ok := strings.CutPrefix(v, "appserver.processes="); ok {
			set = n
		}
	}
	if set != "" {
		return positive(set)
	}
	if n := getenv("STACK_APPSERVER_PROCESSES"); n != "" {
		return positive(n)
	}
	// A regular file only: a named pipe would block here, in init.
	if fi, err := os.Stat(path); err != nil || !fi.Mode().IsRegular() || fi.Size() > 1<<20 {
		return false
	}
	b, err := os.ReadFile(path)
	return err == nil && processesInText(string(b))
}

// processesInText reports whether text has a key "processes" (not
// min_processes) whose value is a number above 0, in block or flow style.
func processesInText(text string) bool {
	const key = "processes"
	for i := 0; ; {
		j := strings.Index(text[i:], key)
		if j < 0 {
			return false
		}
		at := i + j
		i = at + len(key)
		if at > 0 && (text[at-1] == '_' || text[at-1] >= 'a' && text[at-1] <= 'z') {
			continue
		}
		rest := strings.TrimLeft(text[i:], " \t\"'")
		if !strings.HasPrefix(rest, ":") {
			continue
		}
		rest = strings.TrimLeft(rest[1:], " \t\"'")
		end := 0
		for end < len(rest) && rest[end] >= '0' && rest[end] <= '9' {
			end++
		}
		if end > 0 && positive(rest[:end]) {
			return true
		}
	}
}

// positive reports whether s is a whole number above 0.
func positive(s string) bool {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	return err == nil && n > 0
}

// Take returns the early worker, once; nil if there is none or it was
// taken. The caller orders or discards it.
func Take() *Process {
	mu.Lock()
	defer mu.Unlock()
	p := early
	early = nil
	return p
}

// Discard drops p (nil: nothing): its channel is closed, which tells it to
// exit 0, and it is reaped in the background.
func (p *Process) Discard() {
	if p == nil {
		return
	}
	p.Control.Close()
	go p.Proc.Wait()
}

// Order sends p the command line and the whole environment (KEY=value,
// a later one of a key wins) it is to run with; it then runs as if
// started with them. The whole environment, not additions to the one p
// was started with at init: the master's environment is not the same by
// then (the supervisor's STACK_SIGNAL_READY_FD is unset once used: an
// early worker that kept it closed its own descriptor 3). The
// message is its length, then the count of argv's words, then each word
// of argv and env, each after its length (uvarints).
func (p *Process) Order(argv, env []string) error {
	var body []byte
	body = binary.AppendUvarint(body, uint64(len(argv)))
	for _, w := range append(slices.Clip(argv), env...) {
		body = binary.AppendUvarint(body, uint64(len(w)))
		body = append(body, w...)
	}
	if len(body) > maxOrders {
		// Await would refuse them: the master starts a worker itself.
		return fmt.Errorf("appserver: the early worker's orders (pid %d): %d bytes, more than %d", p.Proc.Pid, len(body), maxOrders)
	}
	msg := binary.AppendUvarint(nil, uint64(len(body)))
	if _, err := p.Control.Write(append(msg, body...)); err != nil {
		return fmt.Errorf("appserver: ordering the early worker (pid %d): %w", p.Proc.Pid, err)
	}
	return nil
}

// maxOrders bounds the orders' size (a command line and an environment).
const maxOrders = 1 << 20

// Await is what an early process runs first in main: it waits for its
// orders and puts them in place (os.Args, the environment, GOMAXPROCS),
// or exits 0 if the master dropped it or is gone. In any other process it
// returns at once.
func Await() {
	mark := os.Getenv(envMark)
	if mark == "" {
		return
	}
	// As a worker waiting for its socket does: a ^C to the terminal's
	// group, a SIGHUP or a SIGTERM are the master's to act on.
	signal.Ignore(syscall.SIGINT, syscall.SIGHUP, syscall.SIGTERM)
	argv, env, err := readOrders()
	if err != nil {
		if !errors.Is(err, errDropped) {
			fmt.Fprintln(os.Stderr, "stack: early worker:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	procs := 0
	os.Clearenv()
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		os.Setenv(k, v)
		if k == "GOMAXPROCS" {
			procs, _ = strconv.Atoi(v)
		}
	}
	// The runtime read GOMAXPROCS at exec, before the orders (Start's
	// own if mark is ownProcs).
	switch {
	case procs > 0:
		runtime.GOMAXPROCS(procs)
	case mark == ownProcs:
		runtime.SetDefaultGOMAXPROCS()
	}
	os.Args = argv
}

var errDropped = errors.New("dropped")

// readOrders reads exactly one message from ControlFD, a byte at a time
// for its length: what follows it on the channel (the listening socket,
// control messages) is the worker's.
func readOrders() (argv, env []string, err error) {
	size, err := binary.ReadUvarint(fdByteReader{})
	if err != nil {
		return nil, nil, err
	}
	if size > maxOrders {
		return nil, nil, fmt.Errorf("orders of %d bytes", size)
	}
	body := make([]byte, size)
	if err := readFull(body); err != nil {
		return nil, nil, err
	}
	bad := fmt.Errorf("malformed orders (%d bytes)", size)
	n, k := binary.Uvarint(body)
	if k <= 0 || n == 0 || n > size {
		return nil, nil, bad
	}
	body = body[k:]
	var words []string
	for len(body) > 0 {
		l, k := binary.Uvarint(body)
		if k <= 0 || l > uint64(len(body)-k) {
			return nil, nil, bad
		}
		words = append(words, string(body[k:k+int(l)]))
		body = body[k+int(l):]
	}
	if uint64(len(words)) < n {
		return nil, nil, bad
	}
	return words[:n], words[n:], nil
}

// fdByteReader reads ControlFD a byte at a time.
type fdByteReader struct{}

func (fdByteReader) ReadByte() (byte, error) {
	var b [1]byte
	err := readFull(b[:])
	return b[0], err
}

func readFull(b []byte) error {
	for len(b) > 0 {
		n, err := syscall.Read(ControlFD, b)
		switch {
		case err == syscall.EINTR:
			continue
		case err != nil:
			return fmt.Errorf("reading its orders: %w", os.NewSyscallError("read", err))
		case n == 0:
			return errDropped // the master closed the channel, or is gone
		}
		b = b[n:]
	}
	return nil
}
