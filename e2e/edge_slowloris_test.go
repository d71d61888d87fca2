package e2e

import (
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// edgeSlowloris opens n connections that each send a request head one
// byte a second, until stop. It returns how many connections broke (the
// edge closing them within client_header_timeout would be one).
func edgeSlowloris(t *testing.T, addr string, n int, stop <-chan struct{}) func() int {
	t.Helper()
	var broken atomic.Int32
	var wg sync.WaitGroup
	head := "GET / HTTP/1.1\r\nHost: x\r\nX-Slow: " + strings.Repeat("a", 100)
	for range n {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("slowloris connection: %v", err)
		}
		wg.Go(func() {
			defer c.Close()
			tick := time.NewTicker(time.Second)
			defer tick.Stop()
			for i := 0; ; i++ {
				if _, err := io.WriteString(c, head[i%len(head):i%len(head)+1]); err != nil {
					broken.Add(1)
					return
				}
				select {
				case <-tick.C:
				case <-stop:
					return
				}
			}
		})
	}
	return func() int { wg.Wait(); return int(broken.Load()) }
}

func TestEdgeKeepsThroughputUnderSlowloris(t *testing.T) {
	dir := writeConfig(t, helloConfig)
	addr := strings.TrimSuffix(strings.TrimPrefix(start(t, dir, "up").url(), "http://"), "/")

	// Phases alternate, so that the other load on the machine falls on
	// both alike: normal, under attack, normal, under attack.
	phase := 2 * time.Second
	if raceEnabled {
		phase = time.Second // no ratio is asserted; errors are still counted
	}
	var base, attacked []int
	for round := range 2 {
		res := load{Addr: addr, Conns: 16}.run(t, nil, phase)
		if res.Failed() != 0 {
			t.Fatalf("round %d without slowloris: %s", round, res)
		}
		base = append(base, res.OK)

		stop := make(chan struct{})
		wait := edgeSlowloris(t, addr, 1000, stop)
		time.Sleep(time.Second) // every slow connection has sent a byte or two
		res = load{Addr: addr, Conns: 16}.run(t, nil, phase)
		close(stop)
		if broken := wait(); broken != 0 {
			t.Errorf("round %d: %d of 1000 slow connections were closed within their header timeout", round, broken)
		}
		if res.Failed() != 0 {
			t.Fatalf("round %d with 1,000 slowloris connections: %s", round, res)
		}
		attacked = append(attacked, res.OK)
	}
	sum := func(v []int) int { return v[0] + v[1] }
	ratio := float64(sum(attacked)) / float64(sum(base))
	t.Logf("16 keep-alive clients, %v phases: %v requests alone, %v beside 1,000 slowloris connections: ratio %.2f (nginx: 0.95)", phase, base, attacked, ratio)
	// The goal is 0.9, measured at 0.96-0.99 on 2 shared cores; the bound
	// leaves room for the noise of a shared machine. Under the race
	// detector both sides are too slow for the ratio to mean anything.
	if !raceEnabled && ratio < 0.8 {
		t.Errorf("throughput fell to %.2f of normal under slowloris", ratio)
	}
}
