// Package sockconn is the appserver's connections: the raw descriptor of a
// one-shot uwsgi connection, read and written without the runtime poller
// until it must wait (FD), and the adapter of a net.Conn from any other
// listener (Net), behind one interface (Conn).
package sockconn

import (
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/stack-web/stack/appserver/internal/listener"
)

// A uwsgi connection from any peer but the edge lives for one request:
// accept, read the packet, write the response, close (see the
// appserver's serveconn.go for the edge's kept connections). Through the
// net package that is eight system calls (accept4, getsockname, two
// epoll_ctl for the runtime's poller, read, write, close, and the
// poller's wake-ups), and it happens on every request. A response of a
// few KiB fits the socket buffer, and the packet is written right after
// the connect, so neither side needs to wait long: FD reads and writes
// the descriptor directly (through RawSyscall, rawsys.go), waits for a
// late first packet with a short poll(2), and only hands the descriptor
// to the runtime poller (os.NewFile) when a read or write would block for
// longer. The common request costs
// accept4, read (sometimes ppoll and a second read), write and close.

// Conn is what the server needs of a connection it serves.
type Conn interface {
	io.ReadWriter
	// Close releases the connection; only the goroutine serving it calls it.
	Close() error
	// CloseWrite sends the end of the response (a half-close).
	CloseWrite() error
	// Abort makes pending and later I/O fail at once; safe from any
	// goroutine (harakiri, forced shutdown), even after Close.
	Abort()
	// WriteNow writes p at once without waiting (a short answer from the
	// harakiri watchdog); safe from any goroutine, even after Close.
	WriteNow(p []byte) error
	// ReadsUntil makes every read fail once t has passed (the zero time
	// lifts that), on top of the per-read socket_timeout: a packet has one
	// socket_timeout in all, however slowly its bytes come.
	ReadsUntil(t time.Time)
	// ReadTimeout sets the per-read timeout (socket_timeout; longer while
	// a kept connection waits for its next request).
	ReadTimeout(d time.Duration)
	// StopReading shuts the reading side (the appserver's firstbyte.go):
	// a read waiting for more ends at EOF, what the peer sent before is
	// still read. Safe from any goroutine, even after Close.
	StopReading()
	// Unread reports whether bytes the peer sent wait in the socket (true
	// if it cannot tell). Safe from any goroutine, even after Close.
	Unread() bool
	// Reset makes Close abortive where the socket allows it (TCP: an RST,
	// so the peer sees an error, not an end). Unix sockets have no such
	// signal.
	Reset()
}

// FD is a connection on a raw, non-blocking descriptor.
type FD struct {
	fd      int
	timeout time.Duration // for waits once the poller is involved
	until   time.Time     // if set, no read goes past it
	started bool          // a byte was read: later reads wait in the poller at once
	budget  *Budget       // the listener's: bounds the first reads' waits that time out

	mu     sync.Mutex // guards closed against Abort racing Close
	closed bool
	file   *os.File // non-nil once the connection had to wait
	pio    *pollIO  // file's reads and writes

	// holding: writes are kept in held for the next Read (hold.go);
	// sending (under mu, set with holding) lasts until they went out.
	holding, sending bool
	// aborted (under mu): Abort shut the reading side while sending.
	aborted bool
	held    []byte
}

// NewFD is the connection on fd, just accepted, non-blocking: timeout is
// the per-read socket_timeout until ReadTimeout sets another; budget (nil:
// none) is shared by the connections of a listener, so that more accept
// loops do not mean more waits.
func NewFD(fd int, timeout time.Duration, budget *Budget) *FD {
	return &FD{fd: fd, timeout: timeout, budget: budget}
}

func (c *FD) Read(p []byte) (int, error) {
	if c.holding && len(p) > 0 {
		return c.sendHeldThenRead(p)
	}
	if c.file == nil {
		for waited := false; ; {
			n, err := rawRead(c.fd, p)
			switch {
			case err == syscall.EINTR:
				continue
			case err == nil && n == 0 && len(p) > 0:
				return 0, io.EOF
			case err == nil:
				c.started = true
				return n, nil
			case err != syscall.EAGAIN:
				return 0, os.NewSyscallError("read", err)
			}
			if c.started || waited || c.waitOff() {
				break
			}
			// nginx connects, then writes its packet; the worker, woken by
			// the connect, often runs first (on nginx's own CPU), so its
			// first read finds nothing. Waiting in the runtime's poller
			// would register the socket and wake its monitor (rawsys.go);
			// a short blocking poll(2) gives the CPU straight back to
			// nginx, whose write ends it. Beyond FirstReadWait (a peer
			// that is not nginx, or nginx descheduled), the poller waits.
			// A wait that times out (a peer that connects and stays
			// silent, or nginx descheduled on a busy machine) held the
			// worker for nothing: such waits may take at most 5% of its
			// time (Budget), so that a flood of silent peers cannot
			// hold it, while a timeout now and then does not send the
			// next connections through the poller.
			waited = true
			if !rawWaitReadable(c.fd, FirstReadWait) && c.budget != nil {
				c.budget.spend()
			}
		}
		c.poll()
	}
	c.file.SetReadDeadline(readDeadline(c.timeout, c.until))
	if c.pio != nil {
		return c.pio.read(p)
	}
	return c.file.Read(p)
}

// waitOff reports whether first reads skip the ppoll for now.
func (c *FD) waitOff() bool {
	return c.budget != nil && c.budget.spent()
}

// Budget keeps the first reads' waits that time out under 5% of the
// wall clock, with a burst of waitBurst of them (a generic cell rate
// algorithm): each costs FirstReadWait, paid for by firstReadWaitCost of
// time. Behind nginx on a busy machine a timeout comes now and then (nginx
// preempted between its connect and its write); turning the wait off for
// a while after each sent the connections after it through the poller,
// each costing more CPU than the wait. Since a connection is read right
// after its accept (the appserver's acceptloop.go), more first reads find
// nothing yet, and a 1% budget ran out on the busy machine: 5% was
// measured 147 against 179 µs of CPU per request (nginx in front,
// scripts/ab-appalone.sh).
type Budget struct {
	tat atomic.Int64 // unix ns until which the timeouts so far are paid for; 0: none yet
}

func (b *Budget) spend() {
	now := time.Now().UnixNano()
	for {
		tat := b.tat.Load()
		next := max(tat, now) + int64(firstReadWaitCost)
		if b.tat.CompareAndSwap(tat, next) {
			return
		}
	}
}

// spent reports whether the budget is used up; the clock is read only
// once a wait has timed out.
func (b *Budget) spent() bool {
	tat := b.tat.Load()
	return tat != 0 && tat-time.Now().UnixNano() > int64(waitBurst*firstReadWaitCost)
}

func (c *FD) ReadsUntil(t time.Time) { c.until = t }

func (c *FD) ReadTimeout(d time.Duration) { c.timeout = d }

// readDeadline is the deadline of one read: timeout from now, but not past
// until when that is set.
func readDeadline(timeout time.Duration, until time.Time) time.Time {
	d := time.Now().Add(timeout)
	if !until.IsZero() && until.Before(d) {
		return until
	}
	return d
}

// Write writes p with raw calls while the socket takes it, and waits in
// the poller, with a fresh deadline, only once it is full: a response fits
// the socket's buffer nearly always, and setting the deadline (a runtime
// timer moved in its heap, the clock read) on every write was 2-3% of a
// worker's CPU on kept connections. Only the serving goroutine closes the
// descriptor (Abort shuts it down), so it cannot be another one's here.
func (c *FD) Write(p []byte) (int, error) {
	if c.holding {
		if c.hold(p) {
			return len(p), nil
		}
		h := c.held
		c.held = c.held[:0]
		_, err := c.Write(h)
		c.doneSending()
		if err != nil {
			return 0, err
		}
	}
	written := 0
	for written < len(p) {
		n, err := rawWrite(c.fd, p[written:])
		if err == syscall.EINTR {
			continue
		}
		if err == syscall.EAGAIN {
			break
		}
		if err != nil {
			return written, os.NewSyscallError("write", err)
		}
		written += n
	}
	if written == len(p) {
		return written, nil
	}
	if c.file == nil {
		c.poll()
	}
	// The timeout bounds a pause, as uWSGI's socket-timeout and nginx's
	// send_timeout do, not the whole rest of a big write: each piece the
	// socket takes gives the next wait a fresh deadline, so a reader that
	// is slow but keeps reading gets a big response whole.
	for written < len(p) {
		c.file.SetWriteDeadline(time.Now().Add(c.timeout))
		piece := p[written:min(len(p), written+writePiece)]
		var n int
		var err error
		if c.pio != nil {
			n, err = c.pio.write(piece)
		} else {
			n, err = c.file.Write(piece)
		}
		written += n
		if err != nil {
			return written, err
		}
	}
	return written, nil
}

// writePiece is how much of a write that waits must go out for the next
// wait to get a fresh deadline: a quarter of a Unix socket's default send
// buffer.
const writePiece = 64 << 10

// poll hands the descriptor to the runtime poller, which from then on
// parks the goroutine instead of a thread while it waits.
func (c *FD) poll() {
	f := os.NewFile(uintptr(c.fd), "uwsgi")
	c.pio, _ = newPollIO(f) // nil (os.File's own calls) if it has none
	c.mu.Lock()
	c.file = f
	c.mu.Unlock()
}

func (c *FD) CloseWrite() error {
	return syscall.Shutdown(c.fd, syscall.SHUT_WR)
}

func (c *FD) Close() error {
	if c.holding && len(c.held) > 0 {
		// An answer held for a read that will not come (the connection
		// closes instead: a shutdown, an idle timeout) goes out first.
		c.ReleaseWrites()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	if c.file != nil {
		return c.file.Close()
	}
	return rawClose(c.fd)
}

// Abort shuts the socket down without releasing the descriptor, so the
// number cannot be reused under the serving goroutine's feet; that
// goroutine closes it when it notices.
func (c *FD) Abort() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.closed {
		c.abortLocked()
	}
}

func (c *FD) WriteNow(p []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return net.ErrClosed
	}
	n, err := syscall.Write(c.fd, p)
	if err == nil && n < len(p) {
		err = io.ErrShortWrite
	}
	return err
}

func (c *FD) Reset() {
	syscall.SetsockoptLinger(c.fd, syscall.SOL_SOCKET, syscall.SO_LINGER, &syscall.Linger{Onoff: 1, Linger: 0})
}

func (c *FD) StopReading() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.closed {
		syscall.Shutdown(c.fd, syscall.SHUT_RD)
	}
}

func (c *FD) Unread() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return !c.closed && listener.Unread(uintptr(c.fd))
}

// Detach duplicates the descriptor into a net.Conn of its own (the
// runtime poller's, with deadlines); the serving goroutine's Close then
// closes only the original descriptor.
func (c *FD) Detach() (net.Conn, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, net.ErrClosed
	}
	if c.file == nil {
		c.file = os.NewFile(uintptr(c.fd), "uwsgi")
	}
	nc, err := net.FileConn(c.file)
	if err != nil {
		return nil, fmt.Errorf("duplicating the connection: %w", err)
	}
	return nc, nil
}

// rawWaitReadable waits, without the runtime poller and holding its
// thread and P, until fd is readable or d has passed; it reports whether
// it is (or may be: an error or a signal ends the wait early too, and the
// next read tells). It is a RawSyscall with -race too: ppoll moves no
// bytes, so the detector has nothing to learn from it (rawsys.go).
func rawWaitReadable(fd int, d time.Duration) bool {
	pfd := struct {
		fd      int32
		events  int16
		revents int16
	}{fd: int32(fd), events: pollIn}
	ts := syscall.NsecToTimespec(int64(d))
	n, _, e := syscall.RawSyscall6(syscall.SYS_PPOLL, uintptr(unsafe.Pointer(&pfd)), 1, uintptr(unsafe.Pointer(&ts)), 0, 0, 0)
	return e != 0 || n > 0
}

const (
	// FirstReadWait is the longest a first read waits holding its thread
	// (FD.Read).
	FirstReadWait     = time.Millisecond
	firstReadWaitCost = 20 * FirstReadWait // a wait that timed out is paid for by this much time: at most 5% of a worker
	waitBurst         = 10                 // waits that may time out in a row before the budget is spent
	pollIn            = 0x1                // POLLIN
)
