package prefork

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/stack-web/stack/appserver"
)

// The admin's view of a master with real workers: the snapshot, the
// readiness, scaling by hand within appserver.processes, and the metrics
// read from the workers' reports.
func TestMasterAdminView(t *testing.T) {
	t.Setenv("APPSERVER_TEST_WORKER", "1")
	path := filepath.Join(t.TempDir(), "app.sock")
	l, err := appserver.Listen("unix:"+path, 0o660)
	if err != nil {
		t.Fatal(err)
	}
	cfg := appserver.DefaultConfig()
	cfg.Processes, cfg.MinProcesses = 3, 2
	cfg.WorkerReadyTimeout = 10 * time.Second
	m := &Master{Config: cfg, Command: []string{os.Args[0]}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Output: io.Discard}
	if m.Ready() {
		t.Error("Ready before Serve")
	}
	served := make(chan error, 1)
	go func() { served <- m.Serve(l) }()
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		m.Shutdown(ctx)
		<-served
	}()
	waitFor := func(what string, ok func([]WorkerInfo) bool) []WorkerInfo {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			ws := m.Workers()
			if ok(ws) {
				return ws
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: workers %+v", what, ws)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	states := func(ws []WorkerInfo) string {
		var s []string
		for _, w := range ws {
			s = append(s, w.State)
		}
		return strings.Join(s, ",")
	}
	ws := waitFor("two ready, one cheap", func(ws []WorkerInfo) bool { return states(ws) == "idle,idle,cheap" })
	if !m.Ready() || ws[0].PID == 0 || ws[0].RSS == 0 || ws[2].PID != 0 {
		t.Fatalf("ready %v, workers %+v", m.Ready(), ws)
	}
	for range 3 {
		do(t, path, "GET", request("GET", "/", ""))
	}
	waitFor("three requests reported", func(ws []WorkerInfo) bool { return ws[0].Requests+ws[1].Requests == 3 })

	if id, err := m.AddWorker(); err != nil || id != 3 {
		t.Fatalf("AddWorker = %d, %v", id, err)
	}
	waitFor("three ready", func(ws []WorkerInfo) bool { return states(ws) == "idle,idle,idle" })
	if _, err := m.AddWorker(); err == nil {
		t.Error("AddWorker beyond appserver.processes succeeded")
	}
	for _, want := range []int{3, 2} {
		if id, err := m.RemoveWorker(); err != nil || id != want {
			t.Fatalf("RemoveWorker = %d, %v; want %d", id, err, want)
		}
	}
	if _, err := m.RemoveWorker(); err == nil {
		t.Error("RemoveWorker removed the last worker")
	}

	reg := prometheus.NewRegistry()
	if err := m.Instrument(reg); err != nil {
		t.Fatal(err)
	}
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, f := range fams {
		for _, mt := range f.GetMetric() {
			key := f.GetName()
			for _, lp := range mt.GetLabel() {
				key += "," + lp.GetName() + "=" + lp.GetValue()
			}
			got[key] = mt.GetGauge().GetValue() + mt.GetCounter().GetValue()
		}
	}
	for key, want := range map[string]float64{
		"stack_appserver_workers,state=idle":  1,
		"stack_appserver_workers,state=cheap": 2,
	} {
		if got[key] != want {
			t.Errorf("%s = %v, want %v", key, got[key], want)
		}
	}
	if got["stack_appserver_listen_queue_max"] <= 0 {
		t.Errorf("stack_appserver_listen_queue_max = %v", got["stack_appserver_listen_queue_max"])
	}
	if reqs := got["stack_appserver_worker_requests_total,worker=1"] + got["stack_appserver_worker_requests_total,worker=2"]; reqs != 3 {
		t.Errorf("worker requests %v, want 3 (a retired worker's stay counted)", reqs)
	}
}

// A worker that stops answering (SIGSTOP) shows as unresponsive once its
// heartbeat is overdue; the appserver stays ready while another worker
// answers, and is not ready when none does.
func TestUnresponsiveWorkerIsToldFromAnIdleOne(t *testing.T) {
	t.Setenv("APPSERVER_TEST_WORKER", "1")
	l, err := appserver.Listen("unix:"+filepath.Join(t.TempDir(), "app.sock"), 0o660)
	if err != nil {
		t.Fatal(err)
	}
	cfg := appserver.DefaultConfig()
	cfg.Processes = 2
	cfg.WorkerReadyTimeout = 10 * time.Second
	m := &Master{Config: cfg, Command: []string{os.Args[0]}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Output: io.Discard}
	served := make(chan error, 1)
	go func() { served <- m.Serve(l) }()
	var pids []int
	defer func() {
		for _, pid := range pids {
			syscall.Kill(pid, syscall.SIGCONT)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		m.Shutdown(ctx)
		<-served
	}()
	waitState := func(what string, ok func([]WorkerInfo) bool, within time.Duration) []WorkerInfo {
		t.Helper()
		deadline := time.Now().Add(within)
		for {
			ws := m.Workers()
			if ok(ws) {
				return ws
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: workers %+v", what, ws)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	ws := waitState("both ready", func(ws []WorkerInfo) bool { return m.Ready() }, 10*time.Second)
	// Idle for longer than unresponsiveAfter: heartbeats keep both "idle".
	time.Sleep(unresponsiveAfter + time.Second)
	for _, w := range m.Workers() {
		if w.State != "idle" {
			t.Fatalf("an idle worker past %v without requests: %q", unresponsiveAfter, w.State)
		}
	}
	pids = []int{ws[0].PID}
	syscall.Kill(ws[0].PID, syscall.SIGSTOP)
	waitState("stopped worker unresponsive", func(ws []WorkerInfo) bool { return ws[0].State == "unresponsive" }, unresponsiveAfter+3*time.Second)
	if !m.Ready() {
		t.Error("not ready while the other worker answers")
	}
	pids = append(pids, ws[1].PID)
	syscall.Kill(ws[1].PID, syscall.SIGSTOP)
	waitState("both unresponsive", func(ws []WorkerInfo) bool { return ws[1].State == "unresponsive" }, unresponsiveAfter+3*time.Second)
	if m.Ready() {
		t.Error("ready with no worker answering")
	}
	for _, pid := range pids {
		syscall.Kill(pid, syscall.SIGCONT)
	}
	waitState("answering again", func(ws []WorkerInfo) bool { return ws[0].State == "idle" && ws[1].State == "idle" }, 5*time.Second)
	if !m.Ready() {
		t.Error("not ready once the workers answer again")
	}
}
