package transport

import (
	"testing"
	"time"
)

// nopConn is an upstreamConn that does nothing, for the pool's own cost.
type nopConn struct{}

func (nopConn) Read([]byte) (int, error)         { return 0, nil }
func (nopConn) Write(p []byte) (int, error)      { return len(p), nil }
func (nopConn) Close() error                     { return nil }
func (nopConn) SetDeadline(time.Time) error      { return nil }
func (nopConn) SetReadDeadline(time.Time) error  { return nil }
func (nopConn) SetWriteDeadline(time.Time) error { return nil }

// The pool's cost per request under a load: a get and a put with 64
// connections kept (the shrink timer armed, as it is through a load).
func BenchmarkIdlePoolGetPut(b *testing.B) {
	var p idlePool
	defer p.close()
	for range 64 {
		p.put(nopConn{}, 64, time.Minute)
	}
	b.ReportAllocs()
	for b.Loop() {
		c := p.get(time.Minute)
		p.put(c, 64, time.Minute)
	}
}
