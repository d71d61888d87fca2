package limit

import (
	"strconv"
	"testing"
	"time"
)

func TestParseRate(t *testing.T) {
	for in, want := range map[string]float64{"10r/s": 10, "600r/m": 10, "1r/m": 1.0 / 60, " 5r/s ": 5} {
		r, err := ParseRate(in)
		if err != nil || r.PerSecond() != want {
			t.Errorf("ParseRate(%q) = %v (%v/s), %v; want %v/s", in, r, r.PerSecond(), err, want)
		}
	}
	for _, in := range []string{"", "10", "10/s", "r/s", "0r/s", "-1r/s", "10r/h", "1.5r/s"} {
		if _, err := ParseRate(in); err == nil {
			t.Errorf("ParseRate(%q) accepted", in)
		}
	}
}

func TestParseKey(t *testing.T) {
	if h, ok, err := ParseKey("header:x-real-ip"); err != nil || !ok || h != "X-Real-Ip" {
		t.Errorf("header key: %q %v %v", h, ok, err)
	}
	for _, bad := range []string{"header:", "header:X_Real_IP", "client", "header:a b"} {
		if _, _, err := ParseKey(bad); err == nil {
			t.Errorf("ParseKey(%q) accepted", bad)
		}
	}
}

func cfg(rate string, burst int) RateConfig {
	r, _ := ParseRate(rate)
	return RateConfig{Rate: r, Burst: burst}
}

// nginx's limit_req burst=5 nodelay: 1+5 pass at once, the rest are
// refused with the time until the next token, and one more passes per
// 1/rate after.
func TestRequestsNoDelayBurst(t *testing.T) {
	z := NewRequests(cfg("10r/s", 5))
	now := time.Unix(1000, 0)
	passed, logged := 0, 0
	var retry time.Duration
	for range 100 {
		v := z.Take("a", now)
		if v.OK {
			passed++
			if v.Wait != 0 {
				t.Fatalf("nodelay made a request wait %v", v.Wait)
			}
			continue
		}
		retry = v.RetryAfter
		if v.Log {
			logged++
		}
	}
	if passed != 6 {
		t.Errorf("%d of 100 passed at once, want 1+burst = 6", passed)
	}
	if logged != 1 {
		t.Errorf("%d refusals logged, want 1 per key per %v", logged, LogEvery)
	}
	if retry <= 0 || retry > 100*time.Millisecond || RetryAfterSeconds(retry) != 1 {
		t.Errorf("retry after %v (%ds), want ≤ 1/rate → 1s", retry, RetryAfterSeconds(retry))
	}
	if !z.Take("b", now).OK {
		t.Error("another key was refused: keys must be counted apart")
	}
	if z.Take("a", now.Add(50*time.Millisecond)).OK {
		t.Error("passed before a token was back")
	}
	if !z.Take("a", now.Add(100*time.Millisecond)).OK {
		t.Error("refused after 1/rate")
	}
	// Refused requests do not spend tokens: after a full refill (0.6 s),
	// 6 pass again.
	later := now.Add(time.Second)
	n := 0
	for range 10 {
		if z.Take("a", later).OK {
			n++
		}
	}
	if n != 6 {
		t.Errorf("after refill %d passed, want 6", n)
	}
	// Kept alive (a bucket idle until full is forgotten, with its count),
	// the key's next refusal after LogEvery is logged with the count.
	z.Take("a", now.Add(LogEvery-time.Second))
	var v Verdict
	for range 7 {
		v = z.Take("a", now.Add(LogEvery))
	}
	if v.OK || !v.Log || v.Suppressed != 93+1+4 {
		t.Errorf("7th request %v later: %+v; want refused and logged with %d suppressed", LogEvery, v, 93+1+4)
	}
}

// Without nodelay, the burst is held and passed at the rate.
func TestRequestsDelay(t *testing.T) {
	c := cfg("10r/s", 5)
	no := false
	c.NoDelay = &no
	z := NewRequests(c)
	now := time.Unix(1000, 0)
	var waits []time.Duration
	refused := 0
	for range 20 {
		v := z.Take("a", now)
		if v.OK {
			waits = append(waits, v.Wait)
		} else {
			refused++
		}
	}
	if len(waits) != 6 || refused != 14 {
		t.Fatalf("passed %d (waits %v), refused %d; want 6 and 14", len(waits), waits, refused)
	}
	for i, w := range waits {
		if want := time.Duration(i) * 100 * time.Millisecond; w < want-time.Millisecond || w > want+time.Millisecond {
			t.Errorf("request %d waits %v, want %v", i, w, want)
		}
	}
}

// However many keys come, the zone remembers at most max_clients.
func TestRequestsBoundedKeys(t *testing.T) {
	c := cfg("10r/s", 5)
	c.MaxClients = 1000
	z := NewRequests(c)
	now := time.Unix(1000, 0)
	keys := 1_000_000
	if raceEnabled {
		keys = 100_000 // the race detector makes each Take ~20× slower
	}
	for i := range keys {
		z.Take(strconv.Itoa(i), now)
	}
	if n := z.Len(); n > 1000 {
		t.Fatalf("%d keys remembered, want ≤ 1000", n)
	}
	// The newest keys are the ones kept: the last is still limited.
	last := strconv.Itoa(keys - 1)
	for range 5 {
		z.Take(last, now)
	}
	if z.Take(last, now).OK {
		t.Error("the newest key lost its bucket")
	}
}

// A key idle long enough for its bucket to refill is forgotten by later
// traffic, with no goroutine.
func TestRequestsIdleExpire(t *testing.T) {
	z := NewRequests(cfg("10r/s", 5))
	now := time.Unix(1000, 0)
	for i := range 100 {
		z.Take(strconv.Itoa(i), now)
	}
	later := now.Add(time.Minute)
	for range 60 {
		z.Take("x", later)
	}
	if n := z.Len(); n > 100-2*60+1+1 && n != 1 {
		t.Fatalf("%d keys after the rest idled, want them expiring two per request", n)
	}
}

func TestConns(t *testing.T) {
	z := NewConns(ConnConfig{Max: 2, MaxClients: 2})
	now := time.Unix(1000, 0)
	ok1, _, _ := z.Acquire("a", now)
	ok2, _, _ := z.Acquire("a", now)
	ok3, log3, _ := z.Acquire("a", now)
	if !ok1 || !ok2 || ok3 || !log3 {
		t.Fatalf("acquire a ×3: %v %v %v (logged %v); want the third refused and logged", ok1, ok2, ok3, log3)
	}
	if ok, _, _ := z.Acquire("b", now); !ok {
		t.Fatal("b refused: keys are counted apart")
	}
	if ok, log, _ := z.Acquire("c", now); ok || !log {
		t.Fatalf("c passed a full zone (or its first refusal was not logged)")
	}
	if _, log, _ := z.Acquire("a", now.Add(time.Second)); log {
		t.Fatalf("a logged twice within %v", LogEvery)
	}
	if _, log, n := z.Acquire("a", now.Add(LogEvery)); !log || n != 1 {
		t.Fatalf("a after %v: logged %v with %d unlogged, want true and 1", LogEvery, log, n)
	}
	for i := range 2 * maxLogged {
		z.Acquire(strconv.Itoa(i), now)
	}
	if len(z.logged) > maxLogged {
		t.Fatalf("%d refused keys remembered for the log, want ≤ %d", len(z.logged), maxLogged)
	}
	z.Release("a")
	if ok, _, _ := z.Acquire("a", now); !ok {
		t.Fatal("a refused after a release")
	}
	z.Release("a")
	z.Release("a")
	z.Release("b")
	if z.Len() != 0 || z.InUse("a") != 0 {
		t.Fatalf("%d keys left after every release", z.Len())
	}
}

// One request of a known key: the cost rate_limit adds to a request.
func BenchmarkRequestsTake(b *testing.B) {
	z := NewRequests(cfg("1000000r/s", 1000))
	now := time.Now()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		z.Take("192.0.2.1", now.Add(time.Duration(i)*time.Microsecond))
	}
}

func BenchmarkConnsAcquireRelease(b *testing.B) {
	z := NewConns(ConnConfig{Max: 10})
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		z.Acquire("192.0.2.1", now)
		z.Release("192.0.2.1")
	}
}
