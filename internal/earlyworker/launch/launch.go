// Package launch starts the early worker process (see package
// earlyworker) from package start's init. It imports what package os
// needs and nothing else, not even strconv or strings: Go initialises the
// packages that are ready in import-path order, so a dependency whose
// path sorts late (fmt, reflect, strconv, strings) would have the
// packages before it (compression, protobuf, SQLite's libc: ~1 ms) run
// first and the worker start that much later. Measured with
// GODEBUG=inittrace=1: start's init at 2.6-3.2 ms from exec with package
// earlyworker's imports, right after os and signal's with these. Package
// envnames (its variable's name, shared with the config loader) imports
// nothing and has nothing to initialise, so it is ready, and done, first.
package launch

import (
	"os"
	"runtime"
	"sync"
	"syscall"

	"github.com/stack-web/stack/internal/envnames"
)

// EnvMark marks an early process's environment: it waits for its orders
// on its control descriptor before anything else.
const EnvMark = envnames.EarlyWorker

// OwnProcs is EnvMark's value when Start set GOMAXPROCS itself.
const OwnProcs = "gomaxprocs"

// WorkerCommand is the hidden command of a worker process: os.Args[1] of
// every worker (the master's, and the early one from its exec on).
const WorkerCommand = "appserver-worker"

// IsWorker reports whether args (os.Args) run a worker process.
func IsWorker(args []string) bool { return len(args) > 1 && args[1] == WorkerCommand }

// InheritSlots is how many descriptors, from 5 on (after the worker's
// socket and control channel), the early process holds open on /dev/null
// for the files its orders bring (the configuration its master holds):
// numbers nothing else in it takes before they come.
const InheritSlots = 1

// Launched is the early worker process and the master's end of its
// channel.
type Launched struct {
	Proc    *os.Process
	Control *os.File
	Exe     string // the binary it runs
}

var (
	mu    sync.Mutex
	early *Launched
)

// Start starts the early worker if args (os.Args) run a command whose
// master may want one: one of commands (the first word that is not a
// flag or a flag's value). A failure is silent: the master then starts
// its first worker itself.
func Start(args []string, commands ...string) {
	// On one CPU the two starts would only take turns: nothing gained,
	// and a configuration without worker processes would wait for both.
	if IsWorker(args) || runtime.GOMAXPROCS(0) < 2 || !runs(args, commands) || !wantsWorkers(args, os.Getenv) {
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
	// PSS. earlyworker.Await puts the share the orders give, or the
	// default, in place.
	env := environWithout(EnvMark)
	if os.Getenv("GOMAXPROCS") == "" {
		share := (runtime.GOMAXPROCS(0) + 1) / 2
		env = append(env, EnvMark+"="+OwnProcs, "GOMAXPROCS="+itoa(share))
	} else {
		env = append(env, EnvMark+"=1")
	}
	// The command line a worker has, so that ps shows what it is; its
	// real one comes with the orders.
	p, err := os.StartProcess(exe, []string{exe, WorkerCommand}, &os.ProcAttr{
		Env:   env,
		Files: []*os.File{null, os.Stderr, os.Stderr, null, theirs, null}, // InheritSlots
		// The main thread forks it during init: its exit is the process's.
		// A process group of its own, as the master's other workers.
		Sys: &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true},
	})
	if err != nil {
		mine.Close()
		return
	}
	mu.Lock()
	early = &Launched{Proc: p, Control: mine, Exe: exe}
	mu.Unlock()
}

// Take returns the early worker, once; nil if there is none or it was
// taken.
func Take() *Launched {
	mu.Lock()
	defer mu.Unlock()
	l := early
	early = nil
	return l
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
		case hasPrefix(a, "-"):
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
		case hasPrefix(a, "--config="):
			path = a[len("--config="):]
		case a == "--set" && i+1 < len(args):
			i++
			v = args[i]
		case hasPrefix(a, "--set="):
			v = a[len("--set="):]
		}
		if n, ok := cutPrefix(v, "appserver.processes="); ok {
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
		j := index(text[i:], key)
		if j < 0 {
			return false
		}
		at := i + j
		i = at + len(key)
		if at > 0 && (text[at-1] == '_' || text[at-1] >= 'a' && text[at-1] <= 'z') {
			continue
		}
		rest := trimLeft(text[i:], " \t\"'")
		if !hasPrefix(rest, ":") {
			continue
		}
		rest = trimLeft(rest[1:], " \t\"'")
		end := 0
		for end < len(rest) && rest[end] >= '0' && rest[end] <= '9' {
			end++
		}
		if end > 0 && positive(rest[:end]) {
			return true
		}
	}
}

// positive reports whether s (spaces around it aside) is a whole number
// above 0 as strconv.Atoi reads one: an optional sign, decimal digits, at
// most int64's largest.
func positive(s string) bool {
	s = trimSpace(s)
	if hasPrefix(s, "-") {
		return false // zero or below, or not a number
	}
	s, _ = cutPrefix(s, "+")
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	const largest = "9223372036854775807"
	s = trimLeft(s, "0")
	return s != "" && (len(s) < len(largest) || len(s) == len(largest) && s <= largest)
}

// The few string functions this needs, as package strings has them.

// environWithout is the environment but for the variable name: one set
// by hand must not shadow the value Start gives (the first of two wins).
func environWithout(name string) []string {
	env := os.Environ()
	kept := env[:0:0]
	for _, kv := range env {
		if !hasPrefix(kv, name+"=") {
			kept = append(kept, kv)
		}
	}
	return kept
}

func hasPrefix(s, p string) bool { return len(s) >= len(p) && s[:len(p)] == p }

func cutPrefix(s, p string) (string, bool) {
	if !hasPrefix(s, p) {
		return s, false
	}
	return s[len(p):], true
}

func index(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return i
		}
	}
	return -1
}

// trimLeft drops the leading bytes of s that are in the ASCII set cut.
func trimLeft(s, cut string) string {
	for len(s) > 0 && index(cut, s[:1]) >= 0 {
		s = s[1:]
	}
	return s
}

func trimSpace(s string) string {
	const space = " \t\n\v\f\r"
	s = trimLeft(s, space)
	for len(s) > 0 && index(space, s[len(s)-1:]) >= 0 {
		s = s[:len(s)-1]
	}
	return s
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for ; n > 0; n /= 10 {
		i--
		b[i] = byte('0' + n%10)
	}
	return string(b[i:])
}
