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
