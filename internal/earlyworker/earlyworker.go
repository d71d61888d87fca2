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
	"syscall"

	"github.com/stack-web/stack/internal/earlyworker/launch"
)

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

// Start starts the early worker (package launch, which package start's
// init calls directly: see there why it is a package of its own).
func Start(args []string, commands ...string) { launch.Start(args, commands...) }

// Take returns the early worker, once; nil if there is none or it was
// taken. The caller orders or discards it.
func Take() *Process {
	l := launch.Take()
	if l == nil {
		return nil
	}
	return &Process{Proc: l.Proc, Control: l.Control, Exe: l.Exe}
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

// InheritFD is the first descriptor of the files an order brings: a
// worker's first after its socket and control channel (3 and 4), as
// appserver/prefork gives them; launch.InheritSlots of them at most.
const InheritFD = ControlFD + 1

// Order sends p the command line and the whole environment (KEY=value,
// a later one of a key wins) it is to run with, and files, which it gets
// as descriptors InheritFD on; it then runs as if started with them. The whole environment, not additions to the one p
// was started with at init: the master's environment is not the same by
// then (the supervisor's STACK_SIGNAL_READY_FD is unset once used: an
// early worker that kept it closed its own descriptor 3). The
// message is its length, then the count of argv's words, then each word
// of argv and env, each after its length (uvarints).
func (p *Process) Order(argv, env []string, files []*os.File) error {
	if len(files) > launch.InheritSlots {
		return fmt.Errorf("appserver: the early worker (pid %d) has room for %d files, not %d", p.Proc.Pid, launch.InheritSlots, len(files))
	}
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
	msg := append(binary.AppendUvarint(nil, uint64(len(body))), body...)
	// The files go with the first byte, which Await reads on its own.
	if err := sendWithFiles(p.Control, msg[:1], files); err != nil {
		return fmt.Errorf("appserver: ordering the early worker (pid %d): %w", p.Proc.Pid, err)
	}
	if _, err := p.Control.Write(msg[1:]); err != nil {
		return fmt.Errorf("appserver: ordering the early worker (pid %d): %w", p.Proc.Pid, err)
	}
	return nil
}

// sendWithFiles writes b on the socket c with files' descriptors.
func sendWithFiles(c *os.File, b []byte, files []*os.File) error {
	if len(files) == 0 {
		_, err := c.Write(b)
		return err
	}
	fds := make([]int, len(files))
	for i, f := range files {
		fds[i] = int(f.Fd())
	}
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Write(func(fd uintptr) bool {
		serr = syscall.Sendmsg(int(fd), b, syscall.UnixRights(fds...), nil, 0)
		return serr != syscall.EAGAIN
	}); err != nil {
		return err
	}
	return os.NewSyscallError("sendmsg", serr)
}

// maxOrders bounds the orders' size (a command line and an environment).
const maxOrders = 1 << 20

// Await is what an early process runs first in main: it waits for its
// orders and puts them in place (os.Args, the environment, GOMAXPROCS),
// or exits 0 if the master dropped it or is gone. In any other process it
// returns at once.
func Await() {
	mark := os.Getenv(launch.EnvMark)
	if mark == "" {
		return
	}
	if !launch.IsWorker(os.Args) {
		// Set by hand (or inherited from a worker by a program its app
		// runs): only the master's worker command reads orders; any
		// other command runs as asked, and its children without it.
		os.Unsetenv(launch.EnvMark)
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
	// own if mark is launch.OwnProcs).
	switch {
	case procs > 0:
		runtime.GOMAXPROCS(procs)
	case mark == launch.OwnProcs:
		runtime.SetDefaultGOMAXPROCS()
	}
	os.Args = argv
}

var errDropped = errors.New("dropped")

// readOrders reads exactly one message from ControlFD, a byte at a time
// for its length: what follows it on the channel (the listening socket,
// control messages) is the worker's.
func readOrders() (argv, env []string, err error) {
	first, err := readFirst()
	if err != nil {
		return nil, nil, err
	}
	size, err := binary.ReadUvarint(&fdByteReader{first: first})
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

// readFirst reads the orders' first byte and puts the files that come
// with it at InheritFD on, where the process holds /dev/null for them.
func readFirst() ([]byte, error) {
	buf := make([]byte, 1)
	oob := make([]byte, syscall.CmsgSpace(4*launch.InheritSlots))
	var n, oobn int
	var err error
	for {
		n, oobn, _, _, err = syscall.Recvmsg(ControlFD, buf, oob, syscall.MSG_CMSG_CLOEXEC)
		if err != syscall.EINTR {
			break
		}
	}
	switch {
	case err != nil:
		return nil, fmt.Errorf("reading its orders: %w", os.NewSyscallError("recvmsg", err))
	case n == 0:
		return nil, errDropped
	}
	msgs, err := syscall.ParseSocketControlMessage(oob[:oobn])
	if err != nil {
		return nil, fmt.Errorf("reading its orders: %w", err)
	}
	var fds []int
	for i := range msgs {
		more, err := syscall.ParseUnixRights(&msgs[i])
		if err != nil {
			return nil, fmt.Errorf("reading its orders: %w", err)
		}
		fds = append(fds, more...)
	}
	for i, fd := range fds {
		if i < launch.InheritSlots {
			err = errors.Join(err, syscall.Dup3(fd, InheritFD+i, 0))
		}
		syscall.Close(fd)
	}
	if err != nil || len(fds) > launch.InheritSlots {
		return nil, fmt.Errorf("placing the %d files of its orders: %v", len(fds), err)
	}
	for i := len(fds); i < launch.InheritSlots; i++ {
		syscall.Close(InheritFD + i) // a /dev/null no file came for: not the app's to inherit
	}
	return buf, nil
}

// fdByteReader reads ControlFD a byte at a time, after first.
type fdByteReader struct{ first []byte }

func (r *fdByteReader) ReadByte() (byte, error) {
	if len(r.first) > 0 {
		b := r.first[0]
		r.first = r.first[1:]
		return b, nil
	}
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
