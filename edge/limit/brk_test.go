package limit

import (
	"strings"
	"testing"
	"time"
	"unsafe"
)

// A zone keeps its own copy of a key, in the map as in the bucket: the map
// kept the caller's string, a slice of a header of up to the edge's header
// limit, so 100,000 keys could hold far more than their 64 bytes each.
func TestBrkRequestsKeyNotAliased(t *testing.T) {
	r, _ := ParseRate("10r/s")
	z := NewRequests(RateConfig{Rate: r, Burst: 1})
	header := strings.Repeat("k", 8<<10)
	key := header[:64]
	z.Take(key, time.Now())
	for k := range z.keys {
		if unsafe.StringData(k) == unsafe.StringData(header) {
			t.Fatal("the zone's map holds the caller's string (and the whole header behind it)")
		}
	}
}

// A burst so large that 1+burst (or burst/rate as a Duration) overflows is
// refused by validation: it was accepted, and the zone refused every
// request (a negative bucket) instead of limiting nothing.
func TestBrkBurstBounded(t *testing.T) {
	r, _ := ParseRate("1r/m")
	for _, burst := range []int{MaxBurst + 1, 1<<63 - 1} {
		var got []string
		c := RateConfig{Rate: r, Burst: burst}
		c.Validate("rate_limit", func(key, format string, args ...any) { got = append(got, key) })
		if len(got) != 1 || got[0] != "rate_limit.burst" {
			t.Errorf("burst %d: problems %v, want rate_limit.burst", burst, got)
		}
	}
	c := RateConfig{Rate: r, Burst: MaxBurst}
	c.Validate("rate_limit", func(key, format string, args ...any) { t.Errorf("burst %d refused: %s", MaxBurst, key) })
	f := false
	c.NoDelay = &f
	if v := NewRequests(c).Take("a", time.Now()); !v.OK {
		t.Errorf("burst %d, nodelay false: the first request refused", MaxBurst)
	}
}
