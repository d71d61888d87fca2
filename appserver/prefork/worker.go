package prefork

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"os/signal"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/stack-web/stack/appserver"
)

// harakiriGrace is how long a worker that hit harakiri lets its other
// requests finish before it exits; the master kills it a second later.
const harakiriGrace = 2 * time.Second

// shareCPUs gives this worker its share of the CPUs: the workers are what
// spreads requests over the cores, as uWSGI's processes do, and a Go
// scheduler per worker with every core spins its idle threads looking for
// work the other workers have. With 2 workers on 2 cores, one each cut the
// workers' CPU per request by about a third (nginx in front, hello). A
// GOMAXPROCS in the environment is kept.
func shareCPUs(processes int) {
	if os.Getenv("GOMAXPROCS") != "" || processes < 2 {
		return
	}
	runtime.GOMAXPROCS(cpuShare(runtime.GOMAXPROCS(0), processes))
}

// cpuShareEnv is the environment that gives a worker its share from its
// first instruction: the master's runtime has every CPU, and a worker's
// start (package init, configuration, the app's build) on as many Ps
// leaves each P's cached spans half used: 0.6-0.8 MB of a polls worker's
// PSS. The worker keeps it (shareCPUs). Nil if the environment has a
// GOMAXPROCS already (the workers inherit it) or with one process.
func cpuShareEnv(processes int) []string {
	if os.Getenv("GOMAXPROCS") != "" || processes < 2 {
		return nil
	}
	return []string{"GOMAXPROCS=" + strconv.Itoa(cpuShare(runtime.GOMAXPROCS(0), processes))}
}

// cpuShare is one of processes workers' share of n CPUs, rounded up.
func cpuShare(n, processes int) int {
	return max(1, (n+processes-1)/processes)
}

// RunWorker runs this process as one worker of a Master: it serves h on
// the listening socket inherited as descriptor 3 and talks to the master
// on descriptor 4 (see control.go). It returns nil when the master told it
// to drain (or went away) and its requests are done, so the process exits
// 0; the master reads any other exit as a death.
func RunWorker(cfg appserver.Config, h http.Handler, logger *slog.Logger) error {
	l, err := appserver.InheritedListener(workerListenFD)
	if err != nil {
		return err
	}
	syscall.CloseOnExec(workerControlFD)
	cc, err := fileCtrlConn(os.NewFile(workerControlFD, "control"))
	if err != nil {
		l.Close()
		return fmt.Errorf("appserver: worker (fd %d): %w", workerControlFD, err)
	}
	defer cc.Close()
	// The terminal's ^C, a SIGHUP and a SIGTERM sent to the whole group
	// (systemd, timeout(1)) reach the workers too; the master decides what
	// they do, so they listen to it only. If the master dies, the control
	// channel closes (or Pdeathsig kills them).
	signal.Ignore(syscall.SIGINT, syscall.SIGHUP, syscall.SIGTERM)
	// A broken stdout or stderr (the log's reader gone) fails the write
	// instead of killing the worker with SIGPIPE, as in the master.
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)
	shareCPUs(cfg.Processes)

	w := &workerProc{cfg: cfg, cc: cc, log: logger, born: time.Now(), harakiri: make(chan ctrlMsg, 1), inflight: map[*http.Request]inflight{}}
	r := rand.New(rand.NewPCG(uint64(os.Getpid()), uint64(time.Now().UnixNano())))
	w.maxRequests = jitter(int64(cfg.MaxRequests), r)
	w.maxLifetime = time.Duration(jitter(int64(cfg.MaxLifetime), r))
	// The server of appserver.protocol (uwsgi, fastcgi or http).
	w.srv = appserver.NewService(cfg, http.HandlerFunc(w.serve(h)), logger, appserver.Hooks{OnRequest: w.done, OnHarakiri: w.onHarakiri, OnHijack: w.onHijack})
	served := make(chan error, 1)
	go func() { served <- w.srv.Serve(l) }()
	w.accepting.Store(true)
	if err := cc.Send(ctrlMsg{T: "ready"}); err != nil {
		w.stop(0)
		return fmt.Errorf("appserver: worker: telling the master it is ready: %w", err)
	}

	msgs := make(chan ctrlMsg)
	gone := make(chan struct{})
	quit := make(chan struct{})
	go func() {
		defer close(gone)
		for {
			m, err := cc.Recv()
			if err != nil {
				return
			}
			select {
			case msgs <- m:
			case <-quit:
				return
			}
		}
	}()
	defer func() { close(quit); cc.Close(); <-gone }()

	tick := time.NewTicker(statsEvery)
	defer tick.Stop()
	// SCHED_BATCH (sched.go), unless the worker was started under another
	// policy than the normal one: the operator's (chrt, systemd's
	// CPUSchedulingPolicy), kept. The threads the runtime starts later
	// inherit it.
	if schedOwnable() {
		if err := setSchedPolicy(schedBatch); err != nil {
			logger.Warn(err.Error()) // it serves as well under the normal policy
		}
	}
	var last workerCounters
	var asked, sent time.Time
	for {
		select {
		case m := <-msgs:
			switch m.T {
			case "drain":
				defer w.closeHijackedAfter(m.Grace).Stop()
				return w.stop(-1)
			case "stop":
				return w.stop(0)
			}
		case <-gone:
			logger.Warn("appserver: worker: the master is gone; stopping")
			msgs = nil
			return w.stop(0)
		case m := <-w.harakiri:
			w.accepting.Store(false)
			cc.Send(m)
			cc.Send(ctrlMsg{T: "stats", Stats: w.counters()})
			return w.stop(harakiriGrace)
		case err := <-served:
			if errors.Is(err, appserver.ErrServerClosed) {
				return nil
			}
			return err
		case now := <-tick.C:
			if cur := w.counters(); !cur.same(&last) || cur.Busy > 0 || now.Sub(sent) >= heartbeatEvery {
				last, sent = *cur, now
				cc.Send(ctrlMsg{T: "stats", Stats: cur})
			}
			if reason := w.recycleReason(now); reason != "" && now.Sub(asked) > time.Second {
				// Sent again while it still applies: the master starts the
				// replacement once, and retries if that one failed.
				asked = now
				cc.Send(ctrlMsg{T: "recycle", Reason: reason})
			}
		}
	}
}

// workerProc is a worker's own state.
type workerProc struct {
	cfg         appserver.Config
	cc          *ctrlConn
	log         *slog.Logger
	srv         appserver.Service
	born        time.Time
	maxRequests int64
	maxLifetime time.Duration
	harakiri    chan ctrlMsg

	mu       sync.Mutex
	inflight map[*http.Request]inflight // a hijacked request leaves it (onHijack)

	requests, exceptions, harakiris, tx atomic.Uint64
	busy, totalRT                       atomic.Int64
	accepting                           atomic.Bool
}

func (w *workerProc) serve(h http.Handler) func(http.ResponseWriter, *http.Request) {
	return func(rw http.ResponseWriter, r *http.Request) {
		w.busy.Add(1)
		defer w.busy.Add(-1)
		w.mu.Lock()
		w.inflight[r] = inflight{Method: r.Method, URI: r.RequestURI, Start: time.Now().UnixMicro()}
		w.mu.Unlock()
		defer w.onHijack(r)
		h.ServeHTTP(rw, r)
	}
}

// onHijack forgets r: a handler that took its connection over (a
// WebSocket) may hold it for hours, and the master's harakiri backstop
// must not kill the worker, with every WebSocket in it, for that.
func (w *workerProc) onHijack(r *http.Request) {
	w.mu.Lock()
	delete(w.inflight, r)
	w.mu.Unlock()
}

func (w *workerProc) done(d time.Duration, written int64, panicked bool) {
	w.requests.Add(1)
	w.tx.Add(uint64(written))
	w.totalRT.Add(d.Microseconds())
	if panicked {
		w.exceptions.Add(1)
	}
}

func (w *workerProc) onHarakiri(method, uri string) {
	w.harakiris.Add(1)
	select {
	case w.harakiri <- ctrlMsg{T: "harakiri", Method: method, URI: uri}:
	default: // already on its way out
	}
}

func (w *workerProc) counters() *workerCounters {
	c := &workerCounters{
		Requests: w.requests.Load(), Exceptions: w.exceptions.Load(), Harakiri: w.harakiris.Load(),
		Busy: w.busy.Load(), TotalRT: w.totalRT.Load(), TX: w.tx.Load(), Accepting: w.accepting.Load(),
	}
	w.mu.Lock()
	for _, r := range w.inflight {
		c.Oldest = append(c.Oldest, r)
	}
	w.mu.Unlock()
	slices.SortFunc(c.Oldest, func(a, b inflight) int { return cmp.Compare(a.Start, b.Start) })
	if len(c.Oldest) > maxReported {
		c.Oldest = c.Oldest[:maxReported]
	}
	return c
}

// same reports whether c and d hold the same counters (Oldest aside).
func (c *workerCounters) same(d *workerCounters) bool {
	a, b := *c, *d
	a.Oldest, b.Oldest = nil, nil
	return reflect.DeepEqual(a, b)
}

// recycleReason names the limit this worker has reached, if any.
func (w *workerProc) recycleReason(now time.Time) string {
	switch {
	case w.maxRequests > 0 && int64(w.requests.Load()) >= w.maxRequests:
		return "max_requests"
	case w.maxLifetime > 0 && now.Sub(w.born) >= w.maxLifetime:
		return "max_lifetime"
	case w.cfg.ReloadOnRSS > 0 && w.requests.Load() > 0 && processRSS(os.Getpid()) >= int64(w.cfg.ReloadOnRSS)<<20:
		// After a request only, as uWSGI checks it: a limit below a fresh
		// worker's size would otherwise replace idle workers in a loop.
		return "reload_on_rss"
	}
	return ""
}

// closeHijackedAfter closes the connections handlers hijacked
// (WebSockets) once grace has passed: a worker draining for a reload
// waits for its requests without bound, but a WebSocket may never end, and
// the master would kill the worker, with no close for its clients, at
// the retire mercy (60s without harakiri).
func (w *workerProc) closeHijackedAfter(grace time.Duration) *time.Timer {
	h, ok := w.srv.(interface{ CloseHijacked() int })
	if grace <= 0 || !ok {
		return time.NewTimer(time.Duration(1<<63 - 1))
	}
	return time.AfterFunc(grace, func() {
		if n := h.CloseHijacked(); n > 0 {
			w.log.Info("appserver: worker: closed hijacked (WebSocket) connections at the end of the reload's grace period", "connections", n, "grace", grace)
		}
	})
}

// stop stops accepting and waits for the requests in flight: without
// bound for grace < 0 (the master enforces shutdown_timeout by SIGKILL),
// else for grace. Then it reports its final counters.
func (w *workerProc) stop(grace time.Duration) error {
	w.accepting.Store(false)
	ctx := context.Background()
	if grace >= 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, grace)
		defer cancel()
	}
	err := w.srv.Shutdown(ctx)
	w.cc.Send(ctrlMsg{T: "stats", Stats: w.counters()})
	if err != nil && grace != 0 {
		w.log.Warn("appserver: worker: requests still running at exit", "err", err)
	}
	return nil
}

// processRSS returns a process's resident memory in bytes (0 if unknown),
// from /proc/PID/statm.
func processRSS(pid int) int64 {
	_, rss := processMem(pid)
	return rss
}

// processMem returns a process's virtual and resident sizes in bytes.
func processMem(pid int) (vsz, rss int64) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/statm")
	if err != nil {
		return 0, 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0, 0
	}
	page := int64(os.Getpagesize())
	v, _ := strconv.ParseInt(f[0], 10, 64)
	r, _ := strconv.ParseInt(f[1], 10, 64)
	return v * page, r * page
}
