package edge

import "fmt"

// MaxProcesses bounds edge.processes: one process a CPU is nginx's advice
// (worker_processes auto), and no machine this runs on has 64 to give.
const MaxProcesses = 64

// Several edge processes, as nginx's worker processes, accept on the same
// listening sockets (their parent holds them and gives each a duplicate),
// and the kernel hands each new connection to one of them. Each runs on
// its share of the CPUs with a scheduler of its own: on 2 CPUs, two
// processes of one thread each served hello through three tiers at
// 1.2-1.4x the rate of one process on two threads (wrk -t2 -c64, the
// same appserver), whose threads woke each other across the CPUs and
// left 6-11% of the machine idle.
//
// What one process knows, the others do not: nothing is shared between
// them but the sockets. nginx keeps limit_req and limit_conn counters in
// shared memory zones; here each process would count alone, and a limit
// of 10 r/s would let N times that through. So the limits are refused
// with more than one process rather than silently loosened. An
// upstream's passive health (max_fails) is each process's own, as in
// nginx without a zone.

// validateProcesses checks edge.processes and what it cannot go with.
func (c *Config) validateProcesses() []error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("edge.%s: %s", key, fmt.Sprintf(format, args...)))
	}
	if c.Processes < 1 || c.Processes > MaxProcesses {
		bad("processes", "%d is not from 1 to %d (one per CPU is nginx's worker_processes auto)", c.Processes, MaxProcesses)
		return errs
	}
	if c.Processes == 1 {
		return nil
	}
	const why = "counted by each of edge.processes' %d processes alone, a limit would let %d times as much through; with limits, keep edge.processes: 1"
	if c.RateLimit != nil && !c.RateLimit.Off {
		bad("rate_limit", why, c.Processes, c.Processes)
	}
	if c.LimitConn != nil && !c.LimitConn.Off {
		bad("limit_conn", why, c.Processes, c.Processes)
	}
	check := func(prefix string, locs []LocationConfig) {
		for i, l := range locs {
			if l.RateLimit != nil && !l.RateLimit.Off {
				bad(fmt.Sprintf("%slocations[%d].rate_limit", prefix, i), why, c.Processes, c.Processes)
			}
			if l.LimitConn != nil && !l.LimitConn.Off {
				bad(fmt.Sprintf("%slocations[%d].limit_conn", prefix, i), why, c.Processes, c.Processes)
			}
		}
	}
	check("", c.Locations)
	for i, s := range c.Servers {
		check(fmt.Sprintf("servers[%d].", i), s.Locations)
	}
	return errs
}
