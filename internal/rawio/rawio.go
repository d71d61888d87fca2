// Package rawio reads and writes a non-blocking socket with raw system
// calls under the runtime's poller (syscall.RawConn). net.Conn and
// os.File enter the scheduler's syscall state for every read and write: a
// pair of runtime calls each and, when every thread was idle, a futex wake
// of the runtime's monitor thread so that it could take the processor back
// were the call to block. A read or write of a non-blocking socket never
// blocks: it returns EAGAIN, and the poller waits instead, under the
// deadlines, as before.
//
// The edge's client connections (edge/internal/h1), its Unix connections
// to the app server (edge/upstream) and the app server's connections
// (appserver) use it; measured on hello through the three tiers, each cut
// its tier's CPU per request by about a tenth to a fifth.
package rawio

import (
	"os"
	"sync"
	"syscall"
)

// IO does the reads and writes of one socket. The functions handed to the
// RawConn are made once, their arguments and results kept in the struct,
// so that a read or a write allocates nothing; a mutex per direction keeps
// net.Conn's promise that methods may be called at once.
type IO struct {
	rc syscall.RawConn

	rmu    sync.Mutex
	rbuf   []byte
	rn     int
	rerrno syscall.Errno
	readFn func(uintptr) bool

	wmu     sync.Mutex
	wbuf    []byte
	wn      int
	werrno  syscall.Errno
	writeFn func(uintptr) bool

	// writeReadFn is WriteRead's: the write of wbuf, then the read of
	// rbuf, in one wait of the poller (wrote says which it is at).
	writeReadFn func(uintptr) bool
	wrote       bool
}

// New returns the IO of the socket behind rc.
func New(rc syscall.RawConn) *IO {
	x := new(IO)
	x.Init(rc)
	return x
}

// Init makes x, a zero IO in a struct of the caller's (one allocation for
// both), the IO of the socket behind rc.
func (x *IO) Init(rc syscall.RawConn) {
	x.rc = rc
	x.readFn = x.read
	x.writeFn = x.write
	x.writeReadFn = x.writeRead
}

// Read is one read(2) into p, waiting in the poller while there is
// nothing to read. It returns 0, nil at the end of the stream (the caller
// says io.EOF); an error is the RawConn's (a deadline, a closed socket)
// or an *os.SyscallError.
func (x *IO) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	x.rmu.Lock()
	x.rbuf, x.rn, x.rerrno = p, 0, 0
	err := x.rc.Read(x.readFn)
	n, errno := x.rn, x.rerrno
	x.rbuf = nil
	x.rmu.Unlock()
	if err == nil && errno != 0 {
		n, err = 0, os.NewSyscallError("read", errno)
	}
	return n, err
}

// read is one read(2) of x.rbuf; false asks the poller to wait.
func (x *IO) read(fd uintptr) bool {
	for {
		n, e := Read(fd, x.rbuf)
		switch e {
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false
		case 0:
			x.rn = n
		default:
			x.rerrno = e
		}
		return true
	}
}

// Write writes all of p, waiting in the poller while the socket's buffer
// is full; errors as Read's.
func (x *IO) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	x.wmu.Lock()
	x.wbuf, x.wn, x.werrno = p, 0, 0
	err := x.rc.Write(x.writeFn)
	n, errno := x.wn, x.werrno
	x.wbuf = nil
	x.wmu.Unlock()
	if err == nil && errno != 0 {
		err = os.NewSyscallError("write", errno)
	}
	return n, err
}

// write writes x.wbuf from x.wn on; false asks the poller to wait.
func (x *IO) write(fd uintptr) bool {
	for x.wn < len(x.wbuf) {
		n, e := Write(fd, x.wbuf[x.wn:])
		switch e {
		case 0:
			x.wn += n
		case syscall.EINTR:
		case syscall.EAGAIN:
			return false
		default:
			x.werrno = e
			return true
		}
	}
	return true
}

// WriteRead writes w whole, then reads into r: a request and the first
// bytes of its answer. Read tries the socket before it waits, and right
// after a request it finds nothing (the peer has not run yet): one
// system call a request for an EAGAIN. The poller forgets what it knew
// of the socket's readiness as a read starts, so the wait cannot simply
// come first; WriteRead makes the write inside the read, after that
// reset, so that an answer coming any time after it wakes the wait, and
// waits before it reads. It is only for a peer that sends nothing unasked
// (an app server's kept connection, its last answer read whole): bytes it
// sent before the write would not wake the wait, and would be read only
// when the read deadline ended it, as an EAGAIN. A write the socket does
// not take whole at once goes on as Write, and the read as Read.
//
// wn is what was written; n, as Read's, what was read (0, nil at the end
// of the stream); a write error is returned with n 0.
func (x *IO) WriteRead(w, r []byte) (wn, n int, err error) {
	if len(w) == 0 {
		n, err = x.Read(r)
		return 0, n, err
	}
	if len(r) == 0 {
		wn, err = x.Write(w)
		return wn, 0, err
	}
	x.wmu.Lock()
	x.rmu.Lock()
	x.wbuf, x.wn, x.werrno, x.wrote = w, 0, 0, false
	x.rbuf, x.rn, x.rerrno = r, 0, 0
	err = x.rc.Read(x.writeReadFn)
	wn, werrno, wrote := x.wn, x.werrno, x.wrote
	n, rerrno := x.rn, x.rerrno
	x.wbuf, x.rbuf = nil, nil
	x.rmu.Unlock()
	x.wmu.Unlock()
	switch {
	case werrno != 0:
		return wn, 0, os.NewSyscallError("write", werrno)
	case !wrote && err == nil:
		// The socket's buffer was full: the rest as Write, then Read.
		var more int
		more, err = x.Write(w[wn:])
		wn += more
		if err != nil {
			return wn, 0, err
		}
		n, err = x.Read(r)
		return wn, n, err
	case err != nil:
		return wn, 0, err // the wait's: a deadline, a closed socket
	case rerrno != 0:
		return wn, 0, os.NewSyscallError("read", rerrno)
	}
	return wn, n, nil
}

// writeRead writes x.wbuf at its first call and asks the poller to wait
// (or gives up, the buffer full: WriteRead goes on without it), then
// reads x.rbuf as read does.
func (x *IO) writeRead(fd uintptr) bool {
	if !x.wrote {
		if !x.write(fd) || x.werrno != 0 {
			return true // the buffer full (WriteRead goes on), or an error
		}
		x.wrote = true
		return false
	}
	return x.read(fd)
}
