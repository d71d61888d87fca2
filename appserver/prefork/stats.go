package prefork

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/stack-web/stack/appserver"
)

// The stats server writes one JSON object per connection and closes, as
// uWSGI's --stats does, with uWSGI's field names, so uwsgitop and the
// Prometheus uWSGI exporters read it. Fields uWSGI has and this server has
// no equivalent for (signals, locks, offloading) are present with zero
// values so that those tools find them.

type statsDoc struct {
	Version           string        `json:"version"`
	ListenQueue       int           `json:"listen_queue"`
	ListenQueueErrors int           `json:"listen_queue_errors"`
	SignalQueue       int           `json:"signal_queue"`
	Load              int64         `json:"load"`
	PID               int           `json:"pid"`
	UID               int           `json:"uid"`
	GID               int           `json:"gid"`
	CWD               string        `json:"cwd"`
	Locks             []any         `json:"locks"`
	Sockets           []statsSocket `json:"sockets"`
	Workers           []statsWorker `json:"workers"`
}

type statsSocket struct {
	Name       string `json:"name"`
	Proto      string `json:"proto"`
	Queue      int    `json:"queue"`
	MaxQueue   int    `json:"max_queue"`
	Shared     int    `json:"shared"`
	CanOffload int    `json:"can_offload"`
}

type statsWorker struct {
	ID            int         `json:"id"`
	PID           int         `json:"pid"`
	Accepting     int         `json:"accepting"`
	Requests      uint64      `json:"requests"`
	DeltaRequests uint64      `json:"delta_requests"`
	Exceptions    uint64      `json:"exceptions"`
	HarakiriCount uint64      `json:"harakiri_count"`
	Signals       int         `json:"signals"`
	SignalQueue   int         `json:"signal_queue"`
	Status        string      `json:"status"`
	RSS           int64       `json:"rss"`
	VSZ           int64       `json:"vsz"`
	RunningTime   int64       `json:"running_time"` // µs spent in requests
	LastSpawn     int64       `json:"last_spawn"`   // Unix seconds
	RespawnCount  int         `json:"respawn_count"`
	TX            uint64      `json:"tx"`
	AvgRT         int64       `json:"avg_rt"` // µs
	Apps          []any       `json:"apps"`
	Cores         []statsCore `json:"cores"`
}

type statsCore struct {
	ID                int            `json:"id"`
	Requests          uint64         `json:"requests"`
	StaticRequests    int            `json:"static_requests"`
	RoutedRequests    int            `json:"routed_requests"`
	OffloadedRequests int            `json:"offloaded_requests"`
	WriteErrors       int            `json:"write_errors"`
	ReadErrors        int            `json:"read_errors"`
	InRequest         int            `json:"in_request"`
	Vars              []any          `json:"vars"`
	ReqInfo           map[string]any `json:"req_info"`
}

// statsServer serves the master's statistics.
type statsServer struct {
	l    net.Listener
	path string // a Unix socket's file, removed at Close
	// bound is path's file as bound: Close leaves the path alone once it
	// names another file (another master's stats socket put there after
	// this one was removed).
	bound os.FileInfo
	wg    sync.WaitGroup
}

// listenStats opens addr ("unix:PATH" or "host:port") and serves m's
// statistics on it.
func listenStats(addr string, m *Master) (*statsServer, error) {
	s := &statsServer{}
	var err error
	if path, ok := strings.CutPrefix(addr, "unix:"); ok {
		if err := appserver.RemoveStaleSocket(path); err != nil {
			return nil, fmt.Errorf("appserver.stats: %w", err)
		}
		s.l, err = net.Listen("unix", path)
		s.path = path
		if err == nil {
			os.Chmod(path, 0o600)
			s.bound, _ = os.Lstat(path)
		}
	} else {
		s.l, err = net.Listen("tcp", addr)
	}
	if err != nil {
		return nil, fmt.Errorf("appserver.stats: listen on %s: %w", addr, err)
	}
	if ul, ok := s.l.(*net.UnixListener); ok {
		ul.SetUnlinkOnClose(false) // removed by Close, below, once
	}
	s.wg.Go(func() {
		sem := make(chan struct{}, statsConns)
		for {
			c, err := s.l.Accept()
			if err != nil {
				if !errors.Is(err, net.ErrClosed) {
					m.logger().Warn("appserver: stats: accept failed", "err", err)
					time.Sleep(100 * time.Millisecond)
					continue
				}
				return
			}
			sem <- struct{}{}
			s.wg.Go(func() {
				defer func() { <-sem }()
				serveStats(c, m)
			})
		}
	})
	return s, nil
}

// statsConns bounds the stats readers served at once: a reader that does
// not read holds one for at most statsTimeout, and the others go on.
const (
	statsConns   = 16
	statsTimeout = 5 * time.Second
)

// serveStats writes the document to c and closes it. What the client sent
// (curl's request line, a tool's newline) is read and discarded after the
// half-close: closing a socket with unread input resets it, and the
// client would lose the document it has not read yet.
func serveStats(c net.Conn, m *Master) {
	defer c.Close()
	b, _ := json.MarshalIndent(m.snapshot(), "", "  ")
	c.SetDeadline(time.Now().Add(statsTimeout))
	if _, err := c.Write(append(b, '\n')); err != nil {
		return
	}
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
	c.SetReadDeadline(time.Now().Add(250 * time.Millisecond))
	io.Copy(io.Discard, io.LimitReader(c, 1<<20))
}

func (s *statsServer) Close() error {
	err := s.l.Close()
	s.wg.Wait()
	if fi, lerr := os.Lstat(s.path); s.path != "" && lerr == nil && s.bound != nil && os.SameFile(fi, s.bound) {
		if rerr := os.Remove(s.path); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) && err == nil {
			err = rerr
		}
	}
	return err
}

// snapshot builds the stats document.
func (m *Master) snapshot() statsDoc {
	cwd, _ := os.Getwd()
	doc := statsDoc{Version: "stack", PID: os.Getpid(), UID: os.Getuid(), GID: os.Getgid(), CWD: cwd,
		Locks: []any{}, Sockets: []statsSocket{}, Workers: []statsWorker{}}
	m.mu.Lock()
	l := m.listener
	type row struct {
		s statsWorker
		w *workerHandle
	}
	var rows []row
	for _, s := range m.slots {
		sw := statsWorker{ID: s.id, Status: "cheap", RespawnCount: s.spawns, LastSpawn: s.lastSpawn.Unix(), Apps: []any{}}
		if w := s.cur; w != nil {
			c := w.counters
			sw.PID = w.pid
			sw.Requests, sw.Exceptions, sw.HarakiriCount = c.Requests, c.Exceptions, c.Harakiri
			sw.DeltaRequests = c.Requests - w.lastRead
			w.lastRead = c.Requests
			sw.RunningTime, sw.TX = c.TotalRT, c.TX
			if c.Requests > 0 {
				sw.AvgRT = c.TotalRT / int64(c.Requests)
			}
			if c.Accepting {
				sw.Accepting = 1
			}
			sw.Status = "idle"
			if c.Busy > 0 {
				sw.Status = "busy"
				doc.Load += c.Busy
			}
			core := statsCore{ID: 0, Requests: c.Requests, InRequest: int(min(c.Busy, 1)), Vars: []any{}, ReqInfo: map[string]any{}}
			if len(c.Oldest) > 0 {
				// uWSGI shows the core's current request's vars; a worker
				// here may run several, so this is its oldest.
				r := c.Oldest[0]
				core.Vars = []any{"REQUEST_METHOD=" + r.Method, "REQUEST_URI=" + r.URI}
				core.ReqInfo = map[string]any{"request_start": r.Start / 1e6}
			}
			sw.Cores = []statsCore{core}
		}
		if sw.Cores == nil {
			sw.Cores = []statsCore{}
		}
		rows = append(rows, row{sw, s.cur})
	}
	m.mu.Unlock()
	for _, r := range rows {
		if r.w != nil {
			r.s.VSZ, r.s.RSS = processMem(r.w.pid)
		}
		doc.Workers = append(doc.Workers, r.s)
	}
	if l != nil {
		q, max := appserver.ListenQueue(l)
		doc.ListenQueue = q
		doc.Sockets = append(doc.Sockets, statsSocket{Name: l.Addr().String(), Proto: "uwsgi", Queue: q, MaxQueue: max})
	}
	return doc
}
