// Package bench is `stack bench protocols`: it runs the same app through
// each way of serving it (CGI, FastCGI, uwsgi with and without worker
// processes, HTTP, net/http alone, and one tier against three under slow
// clients; with --with-peers, Debian's nginx and uWSGI beside them), one
// after another on this machine, loads each with its built-in load
// generator (load.go) at each concurrency, and reports requests per
// second, latency, the servers' CPU per request and memory (from /proc,
// proc.go), the bytes the edge sends per request over each protocol
// (measured from the real encoders, wire.go), as a table, JSON, CSV and
// SVG plots (report.go, svg.go) with a conclusion in plain words.
package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Options are the command's flags.
type Options struct {
	Binary      string        // the stack binary that runs the ways
	App         string        // hello or polls
	Duration    time.Duration // measured per cell
	Warmup      time.Duration // run and discarded before each cell
	Connections []int         // concurrencies
	Out         string        // directory for results.json, results.csv, the SVGs and the table
	WithPeers   bool          // add nginx → uWSGI and nginx → FastCGI → stack
	Only        []string      // way names to run; empty: all
	Progress    io.Writer     // progress lines; nil: none
}

// Quick is --quick: about one second per cell.
func (o *Options) Quick() {
	o.Duration, o.Warmup = 700*time.Millisecond, 200*time.Millisecond
}

// Cell is the measurement of one way at one concurrency.
type Cell struct {
	Way         string         `json:"way"`
	Title       string         `json:"title"`
	Connections int            `json:"connections"`
	Requests    int            `json:"requests"`
	RPS         float64        `json:"rps"`
	P50ms       float64        `json:"p50_ms"`
	P99ms       float64        `json:"p99_ms"`
	CPUPerReqUs float64        `json:"cpu_us_per_request"`
	MemoryMiB   float64        `json:"memory_mib"`
	Processes   int            `json:"processes"`
	SyscallsReq float64        `json:"read_write_syscalls_per_request"`
	WireBytes   int            `json:"wire_bytes_per_request"`
	Status5xx   int            `json:"status_5xx"`
	Unfinished  int            `json:"unfinished"`
	Errors      map[string]int `json:"errors"`
}

// Report is everything one run measured.
type Report struct {
	App         string         `json:"app"`
	Duration    string         `json:"duration"`
	Connections []int          `json:"connections"`
	CPUs        int            `json:"cpus"`
	Wire        map[string]int `json:"wire_bytes"`
	Ways        []string       `json:"ways"`
	Cells       []Cell         `json:"cells"`
	Conclusions []string       `json:"conclusions"`
	Failures    []string       `json:"failures,omitempty"`
}

// Run measures every way and writes the outputs under o.Out.
func Run(ctx context.Context, o Options) (*Report, error) {
	if o.App != "hello" && o.App != "polls" {
		return nil, fmt.Errorf("--app %q: use hello or polls", o.App)
	}
	if len(o.Connections) == 0 || o.Duration <= 0 {
		return nil, fmt.Errorf("bench: give --connections and a positive --duration")
	}
	// A cell of 0 connections would wait for a request that no
	// connection sends, and a negative count would panic in make.
	for _, n := range o.Connections {
		if n < 1 {
			return nil, fmt.Errorf("bench: --connections %d: each concurrency must be 1 or more", n)
		}
	}
	if o.Warmup < 0 {
		return nil, fmt.Errorf("bench: --warmup %v: must not be negative", o.Warmup)
	}
	if err := o.checkWays(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return nil, fmt.Errorf("--out: %w", err)
	}
	work, err := os.MkdirTemp("", "stack-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(work)

	rep := &Report{App: o.App, Duration: o.Duration.String(), Connections: o.Connections, CPUs: numCPU()}
	rep.Wire, err = WireBytes(referenceRequest("127.0.0.1:8000", "/"), "uwsgi", "fastcgi", "http")
	if err != nil {
		return nil, err
	}
	var list []way
	for _, w := range ways(o.WithPeers) {
		if len(o.Only) == 0 || contains(o.Only, w.Name) {
			list = append(list, w)
		}
	}
	r := &runner{binary: o.Binary, app: o.App}
	total := len(list) * len(o.Connections)
	done := 0
	for i, w := range list {
		rep.Ways = append(rep.Ways, w.Title)
		cells, err := runWay(ctx, r, w, filepath.Join(work, w.Name), o, func(conns int) {
			left := time.Duration(total-done) * (o.Duration + o.Warmup)
			o.progress("bench: [%d/%d] %s, %s (cell %d of %d, about %v left)", i+1, len(list), w.Title, connections(conns), done+1, total, left.Round(time.Second))
			done++
		})
		if err != nil {
			if ctx.Err() != nil {
				// Interrupted (Ctrl-C): the cells measured so far are
				// written, with no conclusions, which would compare ways
				// that were not all measured.
				for i := range cells {
					cells[i].WireBytes = rep.Wire[w.Wire]
				}
				rep.Cells = append(rep.Cells, cells...)
				rep.Failures = append(rep.Failures, fmt.Sprintf("interrupted during %s: what follows it was not measured", w.Title))
				if werr := rep.write(o.Out); werr != nil {
					return rep, werr
				}
				return rep, fmt.Errorf("bench: interrupted (%w); the %d cells measured are in %s", ctx.Err(), len(rep.Cells), o.Out)
			}
			rep.Failures = append(rep.Failures, fmt.Sprintf("%s: %v", w.Title, err))
			o.progress("bench: %s failed: %v", w.Title, err)
			done += len(o.Connections) - len(cells)
		}
		for i := range cells {
			cells[i].WireBytes = rep.Wire[w.Wire]
		}
		rep.Cells = append(rep.Cells, cells...)
	}
	rep.Conclusions = conclude(rep)
	if err := rep.write(o.Out); err != nil {
		return rep, err
	}
	return rep, nil
}

// checkWays refuses a --ways name that is not a way: it ran nothing and
// exited 0 with an empty table.
func (o Options) checkWays() error {
	known := map[string]bool{}
	var names []string
	for _, w := range ways(true) {
		known[w.Name] = true
		names = append(names, w.Name)
	}
	peers := map[string]bool{}
	for _, w := range peerWays() {
		peers[w.Name] = true
	}
	for _, name := range o.Only {
		switch {
		case !known[name]:
			return fmt.Errorf("bench: --ways %q: no such way (the ways: %s)", name, strings.Join(names, ", "))
		case peers[name] && !o.WithPeers:
			return fmt.Errorf("bench: --ways %q: a peer way; add --with-peers", name)
		}
	}
	return nil
}

func (o Options) progress(format string, args ...any) {
	if o.Progress != nil {
		fmt.Fprintf(o.Progress, format+"\n", args...)
	}
}

// runWay starts one way, measures it at each concurrency and stops it.
func runWay(ctx context.Context, r *runner, w way, dir string, o Options, announce func(int)) ([]Cell, error) {
	if err := os.MkdirAll(filepath.Join(dir, "run"), 0o700); err != nil {
		return nil, err
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	cmds, err := w.start(r, dir, addr)
	if err != nil {
		return nil, err
	}
	defer stopAll(cmds)
	if err := waitReady(ctx, "http://"+addr+"/", cmds); err != nil {
		return nil, fmt.Errorf("%w\n%s", err, logs(dir))
	}
	if w.Slow {
		sctx, cancel := context.WithCancel(ctx)
		stopSlow := startSlowClients(sctx, addr, slowClients)
		defer func() { cancel(); stopSlow() }()
	}
	raw := referenceRequest(addr, "/")
	var cells []Cell
	for _, conns := range o.Connections {
		announce(conns)
		load := Load{Addr: addr, Conns: conns, Request: raw}
		if o.Warmup > 0 {
			wctx, cancel := context.WithTimeout(ctx, o.Warmup)
			load.Run(wctx)
			cancel()
		}
		before := usageOf(cmds)
		mctx, cancel := context.WithTimeout(ctx, o.Duration)
		res := load.Run(mctx)
		cancel()
		after := usageOf(cmds)
		if ctx.Err() != nil {
			return cells, ctx.Err()
		}
		cells = append(cells, cell(w, conns, res, before, after))
	}
	return cells, nil
}

// cell turns a load result and the servers' usage around it into a Cell.
func cell(w way, conns int, res *Result, before, after treeUsage) Cell {
	c := Cell{Way: w.Name, Title: w.Title, Connections: conns, Requests: res.Requests, Status5xx: res.Status5xx, Unfinished: res.Unfinished,
		Errors: res.Errors, MemoryMiB: float64(after.rssBytes) / (1 << 20), Processes: after.procs}
	secs := res.Elapsed.Seconds()
	if secs > 0 {
		c.RPS = float64(res.Requests) / secs
	}
	c.P50ms = float64(res.Percentile(50).Microseconds()) / 1000
	c.P99ms = float64(res.Percentile(99).Microseconds()) / 1000
	// A request still unanswered at the end cost CPU too (a CGI program
	// that has not finished starting): it counts, so that a way too slow
	// to answer within the cell does not show a cost of 0.
	if n := res.Requests + res.Unfinished; n > 0 {
		c.CPUPerReqUs = float64(after.cpuTicks-before.cpuTicks) * (1e6 / clockTick) / float64(n)
		c.SyscallsReq = float64(after.syscalls-before.syscalls) / float64(n)
	}
	return c
}

func usageOf(cmds []*exec.Cmd) treeUsage {
	var u treeUsage
	for _, c := range cmds {
		t := usage(c.Process.Pid)
		u.cpuTicks += t.cpuTicks
		u.rssBytes += t.rssBytes
		u.procs += t.procs
		u.syscalls += t.syscalls
	}
	return u
}

// logs returns the tail of the way's log files, for an error message.
func logs(dir string) string {
	var b strings.Builder
	files, _ := filepath.Glob(filepath.Join(dir, "*.log"))
	for _, f := range files {
		data, _ := os.ReadFile(f)
		if len(data) > 2000 {
			data = data[len(data)-2000:]
		}
		fmt.Fprintf(&b, "%s:\n%s\n", filepath.Base(f), data)
	}
	return b.String()
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// connections says "1 connection", "8 connections".
func connections(n int) string {
	if n == 1 {
		return "1 connection"
	}
	return fmt.Sprintf("%d connections", n)
}
