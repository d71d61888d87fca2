package limit

import (
	"math"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// LogEvery is how often a refused key is logged at most: one line per
// client per interval, with the count refused since, rather than a line per
// request (a flood would otherwise flood the log too).
const LogEvery = 10 * time.Second

// Requests is a limit_req zone: one token bucket (a rate.Limiter) per key.
//
// nginx's semantics, as a token bucket: with nodelay, a key holds up to
// 1+burst tokens that refill at the rate; a request takes one or is
// refused at once. Without nodelay, the bucket holds one token and a
// request may go into debt up to burst tokens: it is held until its token
// is due (at most burst/rate), and refused past that. Either way 1+burst
// requests at once from a fresh key pass and the next is refused.
//
// Memory is bounded without a goroutine, as nginx's zone is: keys are kept
// in least-recently-used order; each Take forgets up to two keys idle long
// enough for their bucket to be full again (forgetting those loses
// nothing: a fresh bucket is full), and a new key past MaxClients pushes
// out the key idle longest.
type Requests struct {
	limit   rate.Limit
	burst   int // the bucket's size: 1+burst with nodelay, 1 without
	maxWait time.Duration
	nodelay bool
	maxKeys int
	idle    time.Duration // after this long unused, a bucket is full again

	mu   sync.Mutex
	keys map[string]*bucket
	lru  bucket // sentinel of the ring: lru.next is the newest, lru.prev the oldest
}

// bucket is one key's limiter and its place in the LRU ring.
type bucket struct {
	key        string
	lim        *rate.Limiter
	last       time.Time // last Take
	loggedAt   time.Time // last refusal logged
	suppressed int       // refusals not logged since loggedAt
	prev, next *bucket
}

// Verdict is a zone's answer for one request.
type Verdict struct {
	// OK: the request passes, after Wait (0 with nodelay).
	OK   bool
	Wait time.Duration
	// RetryAfter, when refused: how long until a request of this key
	// would pass.
	RetryAfter time.Duration
	// Log: this refusal is the first of its key in LogEvery; Suppressed
	// refusals went unlogged before it.
	Log        bool
	Suppressed int
}

// NewRequests returns the zone c describes (c enabled and valid).
func NewRequests(c RateConfig) *Requests {
	z := &Requests{
		limit:   rate.Limit(c.Rate.PerSecond()),
		nodelay: c.NoDelay == nil || *c.NoDelay,
		maxKeys: c.MaxClients,
		keys:    map[string]*bucket{},
	}
	if z.maxKeys <= 0 {
		z.maxKeys = DefaultMaxClients
	}
	z.burst = 1 + c.Burst
	if !z.nodelay {
		z.burst = 1
		z.maxWait = time.Duration(float64(c.Burst) / c.Rate.PerSecond() * float64(time.Second))
	}
	z.idle = time.Duration(float64(1+c.Burst)/c.Rate.PerSecond()*float64(time.Second)) + time.Second
	z.lru.next, z.lru.prev = &z.lru, &z.lru
	return z
}

// Take accounts one request of key at now.
func (z *Requests) Take(key string, now time.Time) Verdict {
	z.mu.Lock()
	defer z.mu.Unlock()
	z.expire(now, 2)
	b := z.keys[key]
	if b == nil {
		if len(z.keys) >= z.maxKeys {
			z.remove(z.lru.prev)
		}
		// A copy: the caller's key may be a slice of a whole request.
		b = &bucket{key: strings.Clone(key), lim: rate.NewLimiter(z.limit, z.burst)}
		z.keys[key] = b
	} else {
		z.unlink(b)
	}
	z.pushFront(b)
	b.last = now

	var v Verdict
	if z.nodelay {
		if b.lim.AllowN(now, 1) {
			return Verdict{OK: true}
		}
		// The time until one token is back.
		v.RetryAfter = time.Duration((1 - b.lim.TokensAt(now)) / float64(z.limit) * float64(time.Second))
	} else {
		res := b.lim.ReserveN(now, 1)
		d := res.DelayFrom(now)
		if d <= z.maxWait {
			return Verdict{OK: true, Wait: d}
		}
		res.CancelAt(now)
		v.RetryAfter = d - z.maxWait
	}
	if now.Sub(b.loggedAt) >= LogEvery {
		v.Log, v.Suppressed = true, b.suppressed
		b.loggedAt, b.suppressed = now, 0
	} else {
		b.suppressed++
	}
	return v
}

// Len is the number of keys remembered.
func (z *Requests) Len() int {
	z.mu.Lock()
	defer z.mu.Unlock()
	return len(z.keys)
}

// expire forgets up to n of the oldest keys whose bucket is full again.
func (z *Requests) expire(now time.Time, n int) {
	for ; n > 0; n-- {
		old := z.lru.prev
		if old == &z.lru || now.Sub(old.last) < z.idle || now.Sub(old.loggedAt) < LogEvery {
			return
		}
		z.remove(old)
	}
}

func (z *Requests) remove(b *bucket) {
	z.unlink(b)
	delete(z.keys, b.key)
}

func (z *Requests) unlink(b *bucket) {
	b.prev.next, b.next.prev = b.next, b.prev
	b.prev, b.next = nil, nil
}

func (z *Requests) pushFront(b *bucket) {
	b.prev, b.next = &z.lru, z.lru.next
	z.lru.next.prev = b
	z.lru.next = b
}

// RetryAfterSeconds is d as a Retry-After value: whole seconds, rounded up,
// at least 1.
func RetryAfterSeconds(d time.Duration) int {
	s := int(math.Ceil(d.Seconds()))
	return max(s, 1)
}
