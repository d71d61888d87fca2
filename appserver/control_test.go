package appserver

import (
	"io"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"
)

// The control channel carries each message whole, in order, both ways,
// and reports the other end's close as io.EOF.
func TestControlChannelRoundTrip(t *testing.T) {
	master, theirs, err := controlPair()
	if err != nil {
		t.Fatal(err)
	}
	defer master.Close()
	worker, err := fileCtrlConn(theirs)
	if err != nil {
		t.Fatal(err)
	}
	sent := []ctrlMsg{
		{T: "ready"},
		{T: "stats", Stats: &workerCounters{Requests: 7, Exceptions: 1, Busy: 2, TotalRT: 1500, TX: 99, Accepting: true,
			Oldest: []inflight{{Method: "GET", URI: "/delay/60", Start: 1700000000000000}}}},
		{T: "harakiri", Method: "GET", URI: "/delay/60?x=\"1\"\n"},
		{T: "recycle", Reason: "max_requests"},
	}
	go func() {
		for _, m := range sent {
			worker.Send(m)
		}
		worker.Close()
	}()
	for i, want := range sent {
		got, err := master.Recv()
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if got.T != want.T || got.Method != want.Method || got.URI != want.URI || got.Reason != want.Reason ||
			(want.Stats != nil && (got.Stats == nil || !reflect.DeepEqual(*got.Stats, *want.Stats))) {
			t.Errorf("message %d: got %+v, want %+v", i, got, want)
		}
	}
	if _, err := master.Recv(); err != io.EOF {
		t.Errorf("after the worker closed: %v, want io.EOF", err)
	}
}

// A drain from the master reaches the worker.
func TestControlChannelMasterToWorker(t *testing.T) {
	master, theirs, err := controlPair()
	if err != nil {
		t.Fatal(err)
	}
	defer master.Close()
	worker, err := fileCtrlConn(theirs)
	if err != nil {
		t.Fatal(err)
	}
	defer worker.Close()
	if err := master.Send(ctrlMsg{T: "drain"}); err != nil {
		t.Fatal(err)
	}
	worker.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if m, err := worker.Recv(); err != nil || m.T != "drain" {
		t.Errorf("worker got %+v, %v", m, err)
	}
}

// Jitter adds at most a tenth, spreads the values, and leaves 0 alone.
func TestJitter(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	if jitter(0, r) != 0 {
		t.Error("jitter(0) != 0")
	}
	seen := map[int64]bool{}
	for range 1000 {
		v := jitter(100, r)
		if v < 100 || v > 110 {
			t.Fatalf("jitter(100) = %d, want 100..110", v)
		}
		seen[v] = true
	}
	if len(seen) < 5 {
		t.Errorf("jitter(100) took only %d values: workers would recycle together", len(seen))
	}
}

func TestConfigValidateWorkers(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Config)
		want string // "" for valid
	}{
		{"defaults", func(c *Config) {}, ""},
		{"workers", func(c *Config) {
			c.Processes, c.MinProcesses, c.MaxRequests, c.MaxLifetime, c.ReloadOnRSS = 4, 2, 100, time.Hour, 512
			c.Stats, c.QueueTimeout = "127.0.0.1:9191", 5*time.Second
		}, ""},
		{"negative processes", func(c *Config) { c.Processes = -1 }, "appserver.processes"},
		{"min above processes", func(c *Config) { c.Processes, c.MinProcesses = 2, 3 }, "appserver.min_processes: 3 is more than processes (2)"},
		{"max_requests in process", func(c *Config) { c.MaxRequests = 100 }, "appserver.max_requests: recycles worker processes"},
		{"max_lifetime in process", func(c *Config) { c.MaxLifetime = time.Hour }, "appserver.max_lifetime"},
		{"reload_on_rss negative", func(c *Config) { c.Processes, c.ReloadOnRSS = 1, -1 }, "appserver.reload_on_rss"},
		{"backlog", func(c *Config) { c.ListenBacklog = 0 }, "appserver.listen_backlog: 0 is outside"},
		{"queue_timeout", func(c *Config) { c.QueueTimeout = -time.Second }, "appserver.queue_timeout"},
		{"ready timeout", func(c *Config) { c.WorkerReadyTimeout = 0 }, "appserver.worker_ready_timeout"},
		{"stats address", func(c *Config) { c.Processes, c.Stats = 1, "nowhere" }, `appserver.stats: "nowhere" is neither`},
		{"stats in process", func(c *Config) { c.Stats = "unix:run/stats.sock" }, "appserver.stats: reports worker processes"},
		{"user in process", func(c *Config) { c.User = "nobody" }, "appserver.user"},
		{"unknown user", func(c *Config) { c.Processes, c.User = 2, "no-such-user-x" }, "appserver.user: user: unknown user no-such-user-x"},
		{"unknown group", func(c *Config) { c.Processes, c.Group = 2, "no-such-group-x" }, "appserver.group: group: unknown group no-such-group-x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			tt.edit(&c)
			err := c.Validate()
			if err != nil && strings.Count(err.Error(), "appserver.") > 1 {
				t.Errorf("one mistake, several errors: %v", err)
			}
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("unexpected error: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

// reload_on_rss below a fresh worker's size recycles a worker only once it
// has served a request: an idle one is not replaced in a loop.
func TestReloadOnRSSWaitsForARequest(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Processes, cfg.ReloadOnRSS = 1, 1 // 1 MiB: any Go process is larger
	w := &workerProc{cfg: cfg, born: time.Now()}
	if r := w.recycleReason(time.Now()); r != "" {
		t.Errorf("a fresh, idle worker recycles for %q", r)
	}
	w.requests.Add(1)
	if r := w.recycleReason(time.Now()); r != "reload_on_rss" {
		t.Errorf("after a request: %q, want reload_on_rss", r)
	}
}
