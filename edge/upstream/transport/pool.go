package transport

import (
	"bufio"
	"errors"
	"io"
	"sync"
	"syscall"
	"time"
)

// idlePool keeps a server's idle connections for reuse, newest first:
// the newest is the least likely to have been closed by the server, and
// the oldest idle out at the bottom. Its zero value is an empty pool.
//
// keepalive (max) bounds the idle connections, as nginx's keepalive does;
// it is not a number to hold on to. A load of 64 connections leaves 64
// kept, and each holds a goroutine, its stack and about 14 KB of buffers
// in an app server's worker (about 1.5 MB over both workers of a stack),
// for the 60 s of keepalive_timeout. So once the pool has had more than
// a few (warmIdle) connections for shrinkAfter, those idle that long
// beyond the newest few are closed: a load's connections go half a
// second after it, before the workers' memory trim (internal/memtrim,
// 750 ms after their last allocations), and a steady load, which takes
// the newest ones first, keeps what it uses.
type idlePool struct {
	mu     sync.Mutex
	conns  []idleConn
	closed bool

	shrink *time.Timer // runs shrinkIdle; armed while more than warm are kept
	armed  bool
	// after and warm replace shrinkAfter and warmIdle when set (tests).
	after time.Duration
	warm  int
}

const (
	// shrinkAfter is how long a connection beyond the newest warmIdle
	// may idle before it is closed.
	shrinkAfter = 500 * time.Millisecond
	// warmIdle is how many idle connections are kept whatever their idle
	// time (up to keepalive_timeout): enough for a light load's requests
	// to find one.
	warmIdle = 4
)

type idleConn struct {
	c     upstreamConn
	since time.Time
}

// get returns the newest idle connection not older than timeout, or nil.
func (p *idlePool) get(timeout time.Duration) upstreamConn {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n := len(p.conns); n > 0 {
		ic := p.conns[n-1]
		p.conns[n-1] = idleConn{}
		p.conns = p.conns[:n-1]
		if time.Since(ic.since) < timeout {
			return ic.c
		}
		// The newest has idled out, so have all the others.
		ic.c.Close()
		p.closeAllLocked()
	}
	return nil
}

// put keeps c, unless max are kept already or the pool is closed; then c
// is closed. Connections idle longer than timeout are closed on the way.
func (p *idlePool) put(c upstreamConn, max int, timeout time.Duration) {
	now := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	expired := 0
	for expired < len(p.conns) && now.Sub(p.conns[expired].since) >= timeout {
		p.conns[expired].c.Close()
		expired++
	}
	if expired > 0 {
		n := copy(p.conns, p.conns[expired:])
		clear(p.conns[n:])
		p.conns = p.conns[:n]
	}
	if p.closed || len(p.conns) >= max {
		c.Close()
		return
	}
	p.conns = append(p.conns, idleConn{c: c, since: now})
	if len(p.conns) > p.warmIdle() && !p.armed {
		p.armLocked(p.shrinkAfter())
	}
}

func (p *idlePool) shrinkAfter() time.Duration {
	if p.after > 0 {
		return p.after
	}
	return shrinkAfter
}

func (p *idlePool) warmIdle() int {
	if p.warm > 0 {
		return p.warm
	}
	return warmIdle
}

// armLocked has shrinkIdle run in d.
func (p *idlePool) armLocked(d time.Duration) {
	p.armed = true
	if p.shrink == nil {
		p.shrink = time.AfterFunc(d, p.shrinkIdle)
		return
	}
	p.shrink.Reset(d)
}

// shrinkIdle closes the connections idle for shrinkAfter beyond the
// newest warmIdle, and comes back when the oldest left would be.
func (p *idlePool) shrinkIdle() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.armed = false
	if p.closed {
		return
	}
	after := p.shrinkAfter()
	now := time.Now()
	old := 0
	for old < len(p.conns)-p.warmIdle() && now.Sub(p.conns[old].since) >= after {
		p.conns[old].c.Close()
		old++
	}
	if old > 0 {
		n := copy(p.conns, p.conns[old:])
		clear(p.conns[n:])
		p.conns = p.conns[:n]
	}
	if len(p.conns) > p.warmIdle() {
		p.armLocked(after - now.Sub(p.conns[0].since))
	}
}

// close closes every idle connection, and those put later.
func (p *idlePool) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	p.closeAllLocked()
	if p.shrink != nil {
		p.shrink.Stop()
	}
}

func (p *idlePool) closeAllLocked() {
	for i := range p.conns {
		p.conns[i].c.Close()
		p.conns[i] = idleConn{}
	}
	p.conns = p.conns[:0]
}

// isStale reports whether err, on a kept connection before any byte of an
// answer, means that the server had closed it: the request was not read,
// and may be sent again on a new connection.
func isStale(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// chunkedEnd reads what follows a chunked body's last chunk: the trailer
// section, up to its empty line, so that the connection is left at the
// start of the next response. Trailer fields are dropped, as they were
// when the connection closed after each response.
func chunkedEnd(br *bufio.Reader) error {
	budget := maxResponseHead
	for {
		line, err := readHeadLine(br, &budget)
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
		if len(line) == 0 {
			return nil
		}
	}
}
