package upstream

import (
	"fmt"
	"hash/fnv"
	"net"
	"strconv"
	"strings"
	"sync"
)

// serverSpec is one entry of an upstream's servers list, parsed:
// "ADDRESS [weight=N] [backup]", as nginx writes its server lines.
type serverSpec struct {
	addr   string
	weight int
	backup bool
}

// parseServers parses the servers list. A parameter given as an item of
// its own ("weight=2", "backup") belongs to the server before it, so that
// STACK_EDGE_UPSTREAMS_APP_SERVERS="unix:a.sock weight=2 unix:b.sock",
// which the configuration splits at spaces, means what it says.
func parseServers(list []string) ([]serverSpec, error) {
	var out []serverSpec
	for i, item := range list {
		fields := strings.Fields(item)
		if len(fields) == 0 {
			return nil, fmt.Errorf("[%d]: is empty", i)
		}
		for _, f := range fields {
			if isServerParam(f) {
				if len(out) == 0 {
					return nil, fmt.Errorf("[%d]: parameter %q comes before any address", i, f)
				}
				if err := applyServerParam(&out[len(out)-1], f); err != nil {
					return nil, fmt.Errorf("[%d]: %w", i, err)
				}
				continue
			}
			if err := checkServerAddr(f); err != nil {
				return nil, fmt.Errorf("[%d]: %w", i, err)
			}
			out = append(out, serverSpec{addr: f, weight: 1})
		}
	}
	if len(out) > 64 {
		return nil, fmt.Errorf(" has %d servers; at most 64 are supported", len(out))
	}
	if len(out) > 0 && !hasPrimary(out) {
		return nil, fmt.Errorf(": every server is a backup; at least one must not be")
	}
	return out, nil
}

func hasPrimary(specs []serverSpec) bool {
	for _, s := range specs {
		if !s.backup {
			return true
		}
	}
	return false
}

func isServerParam(f string) bool {
	return f == "backup" || strings.HasPrefix(f, "weight=")
}

func applyServerParam(s *serverSpec, f string) error {
	if f == "backup" {
		s.backup = true
		return nil
	}
	w, err := strconv.Atoi(strings.TrimPrefix(f, "weight="))
	if err != nil || w < 1 || w > 1000 {
		return fmt.Errorf("%q: weight must be a whole number from 1 to 1000", f)
	}
	s.weight = w
	return nil
}

// balancer picks a server for a request among those not yet tried and not
// marked down. Primary servers are preferred; backups are picked only when
// no primary is available (nginx's backup). It returns -1 when there is no
// candidate at all.
type balancer struct {
	mode    string // round_robin, least_conn, ip_hash
	servers []*upstreamServer

	mu sync.Mutex
	rr int // least_conn's rotating start, for ties
}

// pick chooses among servers[i] where ok(i). key is the client address
// (for ip_hash).
func (b *balancer) pick(key string, ok func(int) bool) int {
	for _, backup := range []bool{false, true} {
		if i := b.pickAmong(key, func(i int) bool { return b.servers[i].backup == backup && ok(i) }); i >= 0 {
			return i
		}
	}
	return -1
}

func (b *balancer) pickAmong(key string, ok func(int) bool) int {
	switch b.mode {
	case "ip_hash":
		return b.hash(key, ok)
	case "least_conn":
		return b.leastConn(ok)
	}
	return b.roundRobin(ok)
}

// roundRobin is nginx's smooth weighted round robin: every pick adds each
// candidate's weight to its current weight, takes the largest, and takes
// the total off it. Weights 5,1,1 give a a b a c a a, never a run of five.
func (b *balancer) roundRobin(ok func(int) bool) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	best, total := -1, 0
	for i, s := range b.servers {
		if !ok(i) {
			continue
		}
		s.current += s.weight
		total += s.weight
		if best < 0 || s.current > b.servers[best].current {
			best = i
		}
	}
	if best >= 0 {
		b.servers[best].current -= total
	}
	return best
}

// leastConn picks the candidate with the fewest requests in flight for
// its weight; ties go round robin.
func (b *balancer) leastConn(ok func(int) bool) int {
	b.mu.Lock()
	start := b.rr
	b.rr++
	b.mu.Unlock()
	n := len(b.servers)
	best := -1
	var bestLoad, load int64
	for j := 0; j < n; j++ {
		i := (start + j) % n
		if !ok(i) {
			continue
		}
		s := b.servers[i]
		load = s.active.Load() * 1000 / int64(s.weight)
		if best < 0 || load < bestLoad {
			best, bestLoad = i, load
		}
	}
	return best
}

// hash maps a client address to a server by weight, so that one client
// keeps reaching the same server while it is up; when it is not, the next
// candidate in order takes its clients.
func (b *balancer) hash(key string, ok func(int) bool) int {
	if host, _, err := net.SplitHostPort(key); err == nil {
		key = host
	}
	h := fnv.New32a()
	h.Write([]byte(key))
	total := 0
	for _, s := range b.servers {
		total += s.weight
	}
	slot := int(h.Sum32() % uint32(total))
	first := 0
	for i, s := range b.servers {
		if slot < s.weight {
			first = i
			break
		}
		slot -= s.weight
	}
	n := len(b.servers)
	for j := 0; j < n; j++ {
		if i := (first + j) % n; ok(i) {
			return i
		}
	}
	return -1
}

// Addresses lists the upstream's server addresses without their nginx
// parameters ("unix:run/a.sock weight=2" is "unix:run/a.sock"), for checks
// that look at where the edge will dial.
func (u Config) Addresses() []string {
	var out []string
	for _, item := range u.Servers {
		for _, f := range strings.Fields(item) {
			if !isServerParam(f) {
				out = append(out, f)
			}
		}
	}
	return out
}
