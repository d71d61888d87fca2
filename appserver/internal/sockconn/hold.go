package sockconn

import (
	"io"
	"syscall"
	"time"
)

// Holding a response's last bytes for the next read.
//
// On a kept connection a worker writes its answer, then reads for the next
// request: that read finds nothing (the edge has not even read the answer
// yet), costs a system call for its EAGAIN, and only then does the runtime
// poller wait. The poller forgets what it knew of the socket's readiness
// as a read starts, so the wait cannot simply come first: the answer's
// write is made inside the read instead (rawio.IO.WriteRead), after that
// reset, and the read waits at once. A worker between two requests of the
// edge, which sends one request at a time and nothing else, loses nothing
// by it; any other peer is never held for (HoldWrites is only asked for
// on a kept connection).

// holdMax bounds what is held: a response's last piece, in the worker's
// own buffer (bufio's 4 KiB, and a chunk's frame). Past it, what is held
// and the rest go out at once, as without holding.
const holdMax = 8 << 10

// HoldWrites keeps what is written from now on, up to holdMax, for the
// next Read, which writes it and then waits for the peer's answer in the
// poller without first trying the read. Only for a peer that sends
// nothing before it has read what is held. ReleaseWrites writes it
// instead, when no Read is to follow (the connection is to close).
func (c *FD) HoldWrites() {
	c.mu.Lock()
	c.holding, c.sending = true, true
	c.mu.Unlock()
}

// ReleaseWrites writes what HoldWrites kept, at once, and stops holding.
func (c *FD) ReleaseWrites() error {
	c.holding = false
	h := c.held
	c.held = c.held[:0]
	var err error
	if len(h) > 0 {
		_, err = c.Write(h)
	}
	c.doneSending()
	return err
}

// hold keeps p if it fits what may be held; false when it does not, and
// holding is over: what was held must go out first, then p.
func (c *FD) hold(p []byte) bool {
	if len(c.held)+len(p) <= holdMax {
		c.held = append(c.held, p...)
		return true
	}
	c.holding = false
	return false
}

// doneSending ends the window in which Abort only shuts the reading side
// (abortLocked): what was held has gone out, or failed to.
func (c *FD) doneSending() {
	c.mu.Lock()
	c.sending = false
	c.holding = false
	c.mu.Unlock()
}

// sendHeldThenRead writes what is held and reads into p: in one wait of
// the poller once the connection is under it, else as Write then Read.
func (c *FD) sendHeldThenRead(p []byte) (int, error) {
	h := c.held
	c.held = c.held[:0]
	c.holding = false
	if c.pio == nil {
		_, err := c.Write(h)
		c.doneSending()
		if err != nil {
			return 0, err
		}
		return c.Read(p)
	}
	c.file.SetReadDeadline(readDeadline(c.timeout, c.until))
	// WriteRead waits before it reads, for an event that comes after its
	// write: the shutdown of an Abort made before it (its event perhaps
	// taken by the poller already) would not end the wait until the
	// deadline. After an Abort, the read is tried first. One that comes
	// later sets a deadline of now after the one above, which ends the wait.
	c.mu.Lock()
	aborted := c.aborted
	c.mu.Unlock()
	if aborted {
		_, err := c.Write(h)
		c.doneSending()
		if err != nil {
			return 0, err
		}
		return c.Read(p)
	}
	wn, n, err := c.pio.io.WriteRead(h, p)
	c.doneSending()
	switch {
	case err != nil && wn < len(h):
		return 0, err
	case err != nil:
		return n, err
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}

// abortLocked shuts the socket down for Abort. While held bytes are on
// their way it shuts only the reading side: a shutdown closing idle
// connections must not cut an answer whose handler has run (the edge
// would send its request again); a waiting read still ends at once.
func (c *FD) abortLocked() {
	how := syscall.SHUT_RDWR
	if c.sending {
		how = syscall.SHUT_RD
		c.aborted = true
		if c.file != nil {
			c.file.SetReadDeadline(time.Now()) // a WriteRead's wait (sendHeldThenRead)
		}
	}
	syscall.Shutdown(c.fd, how)
}
