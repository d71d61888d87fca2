package upstream

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
type idlePool struct {
	mu     sync.Mutex
	conns  []idleConn
	closed bool
}

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
}

// close closes every idle connection, and those put later.
func (p *idlePool) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	p.closeAllLocked()
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
