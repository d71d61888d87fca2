package limit

import (
	"sync"
	"time"
)

// Conns is a limit_conn zone: the number of requests of each key in
// progress. As nginx, it counts requests being processed (with HTTP/2 each
// stream is one), not TCP connections. A key is forgotten as soon as its
// last request ends, so the zone holds only the keys in progress; past
// MaxClients of them a new key is refused (nginx's "zone is full").
type Conns struct {
	max     int
	maxKeys int

	mu       sync.Mutex
	inUse    map[string]int
	loggedAt time.Time // last refusal logged, for the whole zone
	quiet    int       // refusals not logged since
}

// NewConns returns the zone c describes (c enabled and valid).
func NewConns(c ConnConfig) *Conns {
	z := &Conns{max: c.Max, maxKeys: c.MaxClients, inUse: map[string]int{}}
	if z.maxKeys <= 0 {
		z.maxKeys = DefaultMaxClients
	}
	return z
}

// Acquire counts one more request of key in progress, unless key has max
// already (ok false). A caller that got ok must call Release(key) when the
// request ends, however it ends. log and suppressed are as in Verdict,
// throttled for the zone as a whole (one line per LogEvery).
func (z *Conns) Acquire(key string, now time.Time) (ok, log bool, suppressed int) {
	z.mu.Lock()
	defer z.mu.Unlock()
	n, known := z.inUse[key]
	if n < z.max && (known || len(z.inUse) < z.maxKeys) {
		// Not copied: the key (a slice of the request's RemoteAddr or a
		// header) lives as long as the request, and leaves with it.
		z.inUse[key] = n + 1
		return true, false, 0
	}
	if now.Sub(z.loggedAt) >= LogEvery {
		log, suppressed = true, z.quiet
		z.loggedAt, z.quiet = now, 0
	} else {
		z.quiet++
	}
	return false, log, suppressed
}

// Release ends one request of key.
func (z *Conns) Release(key string) {
	z.mu.Lock()
	defer z.mu.Unlock()
	if n := z.inUse[key]; n > 1 {
		z.inUse[key] = n - 1
	} else {
		delete(z.inUse, key)
	}
}

// InUse is the number of requests of key in progress.
func (z *Conns) InUse(key string) int {
	z.mu.Lock()
	defer z.mu.Unlock()
	return z.inUse[key]
}

// Len is the number of keys with requests in progress.
func (z *Conns) Len() int {
	z.mu.Lock()
	defer z.mu.Unlock()
	return len(z.inUse)
}
