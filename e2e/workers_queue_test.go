package e2e

// The shared listen queue under a burst, and the stats server that shows
// it (uWSGI's field names).

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// 2,000 connections at once through the edge: each is answered 200 or 503.
func TestWorkersBurstOf2000Connections(t *testing.T) {
	_, dir, addr := workersStart(t, workersConfig("  queue_timeout: 5s\n"))
	// The stats' listen_queue, sampled during the burst, for the log.
	var peak int
	sampling := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			select {
			case <-sampling:
				return
			case <-time.After(5 * time.Millisecond):
			}
			if c, err := net.Dial("unix", filepath.Join(dir, "run", "stats.sock")); err == nil {
				var s workersStats
				c.SetDeadline(time.Now().Add(time.Second))
				if json.NewDecoder(c).Decode(&s) == nil && s.ListenQueue != nil {
					peak = max(peak, *s.ListenQueue)
				}
				c.Close()
			}
		}
	}()
	const n = 2000
	var mu sync.Mutex
	counts := map[string]int{}
	var wg sync.WaitGroup
	gate := make(chan struct{})
	for range n {
		wg.Go(func() {
			<-gate
			outcome := func() string {
				c, err := net.DialTimeout("tcp", addr, 10*time.Second)
				if err != nil {
					return "dial: " + err.Error()
				}
				defer c.Close()
				c.SetDeadline(time.Now().Add(30 * time.Second))
				fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", addr)
				resp, err := http.ReadResponse(bufio.NewReader(c), nil)
				if err != nil {
					return "read: " + err.Error()
				}
				io.Copy(io.Discard, resp.Body)
				return fmt.Sprint(resp.StatusCode)
			}()
			mu.Lock()
			counts[outcome]++
			mu.Unlock()
		})
	}
	close(gate)
	wg.Wait()
	close(sampling)
	<-sampled
	t.Logf("2000 connections at once: %v; appserver listen_queue peaked at %d (sampled)", counts, peak)
	for k, v := range counts {
		if k != "200" && k != "503" {
			t.Errorf("%d connections got %q, want only 200 or 503", v, k)
		}
	}
}

// The stats server speaks uWSGI's field names, and its counters move.
func TestWorkersStatsJSON(t *testing.T) {
	_, dir, addr := workersStart(t, workersConfig(""))
	before, raw := workersReadStats(t, dir)
	for _, k := range []string{"version", "listen_queue", "listen_queue_errors", "load", "pid", "uid", "gid", "cwd", "sockets", "workers"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("stats lack %q", k)
		}
	}
	w0 := raw["workers"].([]any)[0].(map[string]any)
	for _, k := range []string{"id", "pid", "accepting", "requests", "delta_requests", "exceptions", "harakiri_count",
		"status", "rss", "vsz", "running_time", "last_spawn", "respawn_count", "tx", "avg_rt", "apps", "cores"} {
		if _, ok := w0[k]; !ok {
			t.Errorf("stats workers[] lack %q", k)
		}
	}
	if len(before.Sockets) != 1 || before.Sockets[0].MaxQueue == 0 {
		t.Errorf("sockets[]: %+v, want the app socket with its max_queue", before.Sockets)
	}
	res := load{Addr: addr, Conns: 4}.run(t, nil, time.Second)
	time.Sleep(300 * time.Millisecond) // workers report every 100ms
	after, _ := workersReadStats(t, dir)
	total := func(s workersStats) (n int) {
		for _, w := range s.Workers {
			n += w.Requests
			if w.RSS == 0 || w.Status != "idle" && w.Status != "busy" {
				t.Errorf("worker %d: rss %d, status %q", w.ID, w.RSS, w.Status)
			}
		}
		return n
	}
	if b, a := total(before), total(after); a-b < res.OK {
		t.Errorf("requests went from %d to %d for %d answered", b, a, res.OK)
	}
}
