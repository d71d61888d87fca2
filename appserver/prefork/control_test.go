package prefork

import (
	"encoding/json"
	"io"
	"math/rand/v2"
	"net"
	"reflect"
	"testing"
	"time"

	"github.com/stack-web/stack/appserver"
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

// reload_on_rss below a fresh worker's size recycles a worker only once it
// has served a request: an idle one is not replaced in a loop.
func TestReloadOnRSSWaitsForARequest(t *testing.T) {
	cfg := appserver.DefaultConfig()
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

// A message that is its type alone is written without encoding/json, as
// encoding/json writes it; any other goes through it (a drain's grace).
func TestControlSendWritesWhatJSONWould(t *testing.T) {
	for _, m := range []ctrlMsg{{T: "ready"}, {T: "drain"}, {T: "stop"}, {T: "drain", Grace: time.Second}, {T: "recycle", Reason: "max_requests"}} {
		a, b := net.Pipe()
		cc := newCtrlConn(a)
		got := make(chan []byte, 1)
		go func() {
			buf, _ := io.ReadAll(b)
			got <- buf
		}()
		if err := cc.Send(m); err != nil {
			t.Fatal(err)
		}
		a.Close()
		want, _ := json.Marshal(m)
		if g := <-got; string(g) != string(want)+"\n" {
			t.Errorf("Send(%+v) wrote %q, want %q", m, g, want)
		}
	}
}
