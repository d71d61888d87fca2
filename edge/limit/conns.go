package limit

import (
	"strings"
	"sync"
	"time"
)

// Conns is a limit_conn zone: the number of requests of each key in
// progress. As nginx, it counts requests being processed (with HTTP/2 each
// stream is one), not TCP connections. A key is forgotten as soon as its
// last request ends, so the zone holds only the keys in progress; past
// MaxClients of them a new key is refused (nginx's "zone is full").
// Refusals are logged once per key per LogEvery.
type Conns struct {
	max     int
	maxKeys int

	mu     sync.Mutex
	inUse  map[string]int
	logged map[string]*logState // refused keys, for LogEvery; at most maxLogged
}

// logState is when a refused key was last logged, and what went unlogged.
type logState struct {
	at    time.Time
	quiet int
}

// maxLogged bounds the refused keys remembered for logging; past it the
// stale ones are dropped (and if none is stale, all are: a few extra log
// lines under a flood of distinct clients, never unbounded memory).
const maxLogged = 4096

// NewConns returns the zone c describes (c enabled and valid).
func NewConns(c ConnConfig) *Conns {
	z := &Conns{max: c.Max, maxKeys: c.MaxClients, inUse: map[string]int{}, logged: map[string]*logState{}}
	if z.maxKeys <= 0 {
		z.maxKeys = DefaultMaxClients
	}
	return z
}

// Acquire counts one more request of key in progress, unless key has max
// already (ok false). A caller that got ok must call Release(key) when the
// request ends, however it ends. log and suppressed are as in Verdict: one
// line per key per LogEvery.
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
	ls := z.logged[key]
	if ls == nil {
		if len(z.logged) >= maxLogged {
			z.forgetLogged(now)
		}
		ls = &logState{}
		z.logged[strings.Clone(key)] = ls
	}
	if now.Sub(ls.at) >= LogEvery {
		log, suppressed = true, ls.quiet
		ls.at, ls.quiet = now, 0
	} else {
		ls.quiet++
	}
	return false, log, suppressed
}

// forgetLogged drops the keys logged more than LogEvery ago, or all.
func (z *Conns) forgetLogged(now time.Time) {
	for k, ls := range z.logged {
		if now.Sub(ls.at) >= LogEvery {
			delete(z.logged, k)
		}
	}
	if len(z.logged) >= maxLogged {
		clear(z.logged)
	}
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
