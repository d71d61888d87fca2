package cli

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/stack-web/stack/admin"
	"github.com/stack-web/stack/appserver"
	"github.com/stack-web/stack/appserver/prefork"
	"github.com/stack-web/stack/config"
	"github.com/stack-web/stack/edge"
	"github.com/stack-web/stack/supervisor"
)

// adminWiring connects the admin surface (package admin) to what this
// command runs. newAdmin comes first, so that the tiers' loggers feed the
// status page's recent errors; start comes last, once the tiers exist, and
// adds the admin as the supervisor's last actor: it is interrupted after
// the edge and the appserver have drained, so /readyz answers 503 (from
// the signal on, through OnStopping) for the whole drain.
type adminWiring struct {
	c      *cmdEnv
	f      *config.File
	sup    *supervisor.Supervisor
	reload *reloadSet
	errs   *admin.ErrorLog
	srv    *admin.Server
}

func (c *cmdEnv) newAdmin(f *config.File, sup *supervisor.Supervisor, reload *reloadSet) *adminWiring {
	a := &adminWiring{c: c, f: f, sup: sup, reload: reload}
	if f.Admin.Listen == "" && f.Admin.Socket == "" {
		return a
	}
	if reload.scope != "up" && !f.AdminGiven {
		// `stack edge` and `stack appserver` are often run side by side
		// in one run_dir: only `up` takes the defaults.
		return a
	}
	a.errs = admin.NewErrorLog()
	c.logger = slog.New(a.errs.Handler(c.logger.Handler()))
	sup.Logger = c.logger
	return a
}

// start builds the admin server for the tiers this command runs, opens its
// sockets and adds it to the supervisor. e and app are nil for the tiers
// not run in this process.
func (a *adminWiring) start(e *edge.Edge, app *appserverTier) error {
	f := a.f
	if a.errs == nil {
		return nil // admin.listen and admin.socket are both ""
	}
	children := e == nil && app == nil && f.TiersInChildren()
	src := admin.Sources{
		Tiers:  func() []admin.Tier { return a.tiers(e, app) },
		Ready:  func() error { return a.ready(e, app) },
		Config: func() ([]byte, error) { return a.reload.effective().YAML(false) },
	}
	if children {
		a.childSources(&src)
	}
	if len(a.reload.reloads) > 0 {
		src.Reload = a.reload.reload
	}
	if e != nil {
		src.Upstreams = func() []admin.Upstream { return upstreams(e) }
	}
	m := app.masterOrNil()
	if m != nil {
		src.Workers = func() []admin.Worker { return workers(m) }
		src.AddWorker, src.RemoveWorker = m.AddWorker, m.RemoveWorker
	}
	srv := admin.New(f.Admin, src, a.errs, a.c.logger.With("tier", "admin"))
	if e != nil {
		if err := e.Instrument(srv.Registerer()); err != nil {
			return fmt.Errorf("admin: edge metrics: %w", err)
		}
	}
	if m != nil {
		if err := m.Instrument(srv.Registerer()); err != nil {
			return fmt.Errorf("admin: appserver metrics: %w", err)
		}
	}
	if app != nil && app.server != nil {
		if err := instrumentInProcess(srv.Registerer(), app); err != nil {
			return fmt.Errorf("admin: appserver metrics: %w", err)
		}
	}
	if err := srv.Listen(); err != nil {
		return err
	}
	a.srv = srv
	a.sup.OnStopping(srv.Stopping)
	a.sup.AddServer("admin", srv.Serve, srv.Shutdown)
	if addr := srv.Addr(); addr != nil {
		fmt.Fprintf(a.c.stderr, "stack: admin at http://%s/status (metrics at /metrics)\n", addr)
	}
	return nil
}

// tiers describes what runs, for the status page.
func (a *adminWiring) tiers(e *edge.Edge, app *appserverTier) []admin.Tier {
	f := a.reload.effective()
	var out []admin.Tier
	state := func(ok bool) string {
		if ok {
			return "serving"
		}
		return "starting"
	}
	if e != nil {
		var addrs []string
		for _, ad := range e.Addrs() {
			addrs = append(addrs, "http://"+ad.String()+"/")
		}
		for _, ad := range e.TLSAddrs() {
			addrs = append(addrs, "https://"+ad.String()+"/")
		}
		out = append(out, admin.Tier{Name: "edge", Addrs: addrs, State: state(e.Accepting())})
	}
	if app != nil {
		ready := app.master == nil || app.master.Ready()
		addrs := []string{"uwsgi " + f.Appserver.Listen, "app " + f.Appserver.App}
		if app.master != nil {
			addrs = append(addrs, fmt.Sprintf("%d worker processes", f.Appserver.Processes))
		}
		out = append(out, admin.Tier{Name: "appserver", Addrs: addrs, State: state(ready)})
	}
	if a.reload.scope == "up" { // the extra processes run with up only
		for _, p := range f.Processes {
			out = append(out, admin.Tier{Name: p.Name, Addrs: []string{strings.Join(config.RedactCommand(p.Command), " ")}, State: "child process"})
		}
	}
	return out
}

// ready is /readyz's test: the edge accepts and the appserver has its
// workers.
func (a *adminWiring) ready(e *edge.Edge, app *appserverTier) error {
	if e != nil && !e.Accepting() {
		return errors.New("edge: not accepting yet")
	}
	if app != nil && app.master != nil && !app.master.Ready() {
		return errors.New("appserver: workers not all ready")
	}
	return nil
}

func upstreams(e *edge.Edge) []admin.Upstream {
	var out []admin.Upstream
	for _, u := range e.Upstreams() {
		au := admin.Upstream{Name: u.Name, Protocol: u.Protocol}
		for _, s := range u.Servers {
			au.Servers = append(au.Servers, admin.UpstreamServer{Address: s.Address, Weight: s.Weight, Backup: s.Backup, Up: s.Up, Fails: s.Fails})
		}
		out = append(out, au)
	}
	return out
}

func (t *appserverTier) masterOrNil() *prefork.Master {
	if t == nil {
		return nil
	}
	return t.master
}

func workers(m *prefork.Master) []admin.Worker {
	ws := m.Workers()
	out := make([]admin.Worker, len(ws))
	for i, w := range ws {
		out[i] = admin.Worker{ID: w.ID, PID: w.PID, State: w.State, Requests: w.Requests, Harakiri: w.Harakiri,
			Respawns: w.Respawns, RSS: w.RSS, Age: w.Age.Seconds(), AvgRT: w.AvgRT.Seconds(), Current: withoutQuery(w.Current), Running: w.Running.Seconds()}
	}
	return out
}

// withoutQuery drops the query of a current request ("GET /reset?token=…"):
// the status is served on admin.listen to whoever reaches it, and a query
// often carries a token or a key. The path says what the worker is doing.
func withoutQuery(request string) string {
	if i := strings.IndexByte(request, '?'); i >= 0 {
		return request[:i] + "?…"
	}
	return request
}

// instrumentInProcess registers what an appserver without worker
// processes (processes: 0) can tell: its requests and its listen queue,
// read at scrape time.
func instrumentInProcess(reg prometheus.Registerer, app *appserverTier) error {
	srv, l := app.server, app.listener
	for _, c := range []prometheus.Collector{
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "stack_appserver_requests_total",
			Help: "Requests answered by the appserver in this process (processes: 0)."},
			func() float64 { return float64(srv.Requests()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "stack_appserver_listen_queue",
			Help: "Connections waiting in the socket's accept queue."},
			func() float64 { q, _ := appserver.ListenQueue(l); return float64(q) }),
	} {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}
