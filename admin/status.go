package admin

import (
	"encoding/json"
	"net/http"
	"os"
	"runtime"
	"time"
)

// Tier is one running tier and where it listens.
type Tier struct {
	Name  string   `json:"name"`  // edge, appserver, admin, or a process's name
	Addrs []string `json:"addrs"` // http://127.0.0.1:8000/, unix:run/app.sock, …
	State string   `json:"state"` // serving, starting, stopping, child process
}

// Worker is one appserver worker slot.
type Worker struct {
	ID       int     `json:"id"`
	PID      int     `json:"pid"`
	State    string  `json:"state"` // idle, busy, starting, cheap, down
	Requests uint64  `json:"requests"`
	Harakiri uint64  `json:"harakiri"`
	Respawns int     `json:"respawns"`
	RSS      int64   `json:"rss"`     // bytes
	Age      float64 `json:"age"`     // seconds
	AvgRT    float64 `json:"avg_rt"`  // seconds
	Current  string  `json:"current"` // "GET /path" of its oldest request in flight
	Running  float64 `json:"running"` // seconds that request has run
}

// Upstream is one edge upstream.
type Upstream struct {
	Name     string           `json:"name"`
	Protocol string           `json:"protocol"`
	Servers  []UpstreamServer `json:"servers"`
}

// UpstreamServer is one server of an upstream and its passive health.
type UpstreamServer struct {
	Address string `json:"address"`
	Weight  int    `json:"weight"`
	Backup  bool   `json:"backup"`
	Up      bool   `json:"up"`
	Fails   int32  `json:"fails"`
}

// Status is /status.json, what `stack status --json` prints.
type Status struct {
	PID       int        `json:"pid"`
	Version   string     `json:"go_version"`
	Started   time.Time  `json:"started"`
	Uptime    float64    `json:"uptime"` // seconds
	Ready     bool       `json:"ready"`
	NotReady  string     `json:"not_ready,omitempty"`
	Stopping  bool       `json:"stopping"`
	Tiers     []Tier     `json:"tiers"`
	Workers   []Worker   `json:"workers"`
	Upstreams []Upstream `json:"upstreams"`
	// Requests is the last minute, one point a second, oldest first.
	Requests []Point `json:"requests"`
	// Errors are the latest warnings and errors logged, newest last.
	Errors []LogEntry `json:"errors"`
}

// Status builds the current status.
func (s *Server) Status() Status {
	st := Status{PID: os.Getpid(), Version: runtime.Version(), Started: s.started, Uptime: time.Since(s.started).Seconds(),
		Stopping: s.stopping.Load(), Tiers: []Tier{}, Workers: []Worker{}, Upstreams: []Upstream{}}
	st.Ready = !st.Stopping
	if s.src.Ready != nil && st.Ready {
		if err := s.src.Ready(); err != nil {
			st.Ready, st.NotReady = false, err.Error()
		}
	}
	if st.Stopping {
		st.NotReady = "stopping"
	}
	if s.src.Tiers != nil {
		st.Tiers = append(st.Tiers, s.src.Tiers()...)
	}
	var admin []string
	if s.tcp != nil {
		admin = append(admin, "http://"+s.tcp.Addr().String()+"/")
	}
	if s.unix != nil {
		admin = append(admin, "unix:"+s.cfg.Socket)
	}
	if len(admin) > 0 {
		st.Tiers = append(st.Tiers, Tier{Name: "admin", Addrs: admin, State: "serving"})
	}
	if s.src.Workers != nil {
		st.Workers = append(st.Workers, s.src.Workers()...)
	}
	if s.src.Upstreams != nil {
		st.Upstreams = append(st.Upstreams, s.src.Upstreams()...)
	}
	st.Requests = s.history.points()
	st.Errors = s.errors.Entries()
	return st
}

func (s *Server) statusJSON(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(s.Status())
}
