package auth

import (
	"context"
	"fmt"
	"runtime"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Failed logins sent at once hash their passwords a few at a time (as many
// as the CPUs Go uses), not all together: each hash holds the hasher's
// Memory (Django's 100 MiB), and 20 at once, one address's allowance,
// grew a polls worker to 1.2 GiB (break-it 15). Measured as the peak of
// the heap while 12 logins of unknown users (distinct names and
// addresses, so that none is throttled) hash at 16 MiB each.
func TestConcurrentLoginsHashAFewAtATime(t *testing.T) {
	const n, mib = 12, 16
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2)) // the bound New reads: 2, as on CI, whatever this machine has
	a, _ := newAuth(t, Hasher{Time: 4, Memory: mib * 1024, Threads: 1})
	a.Authenticate(context.Background(), "warm-up", "x", "10.0.0.1") // the dummy hash, made once
	runtime.GC()
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(sample)
	base := sample[0].Value.Uint64()
	var peak atomic.Uint64
	stop := make(chan struct{})
	var sampler sync.WaitGroup
	sampler.Go(func() {
		s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		for {
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
			}
			metrics.Read(s)
			if v := s[0].Value.Uint64(); v > peak.Load() {
				peak.Store(v)
			}
		}
	})
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			a.Authenticate(context.Background(), fmt.Sprintf("nobody%d", i), "guess", fmt.Sprintf("10.0.1.%d", i))
		})
	}
	close(start)
	wg.Wait()
	close(stop)
	sampler.Wait()
	grown := (peak.Load() - base) >> 20
	// Bounded: GOMAXPROCS hashes at once, and as much again of blocks
	// dead but not yet collected. Unbounded, all n hold theirs at once.
	limit := uint64(2*runtime.GOMAXPROCS(0)+1) * mib
	t.Logf("heap grew by %d MiB at most (GOMAXPROCS %d, %d logins of %d MiB; limit %d MiB)", grown, runtime.GOMAXPROCS(0), n, mib, limit)
	if grown > limit {
		t.Errorf("the heap grew by %d MiB during %d concurrent logins, over %d MiB: the hashes ran all at once", grown, n, limit)
	}
}
