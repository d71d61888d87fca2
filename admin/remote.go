package admin

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"google.golang.org/protobuf/proto"
)

// Remote is the admin socket of another stack process: in mode:
// subprocess each tier child serves its own admin on a Unix socket in
// run_dir, and the parent's admin gathers their metrics (labelled with
// the tier) and reads their status and workers through it.
type Remote struct {
	// Name is the child's tier (edge, appserver): the tier label.
	Name string
	// Process, if set, tells apart the children of one tier (the edge's,
	// with edge.processes above 1): the process label, beside tier.
	Process string
	Socket  string
	hc      *http.Client

	// The child's status, read at most once per statusFresh: a status
	// page or a /status.json asks for it several times (tiers, workers,
	// upstreams, readiness), and a child that hangs (stopped, stuck) must
	// cost one statusTimeout, not one per question.
	mu        sync.Mutex // one read at a time; the others take its answer
	statusAt  time.Time
	status    []byte
	statusErr error
}

const (
	statusFresh   = 500 * time.Millisecond
	statusTimeout = 2 * time.Second // a probe's answer must come sooner than a scrape's
)

// NewRemote returns a client of the admin socket at path.
func NewRemote(name, path string) *Remote {
	tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", path)
	}, MaxIdleConnsPerHost: 2}
	return &Remote{Name: name, Socket: path, hc: &http.Client{Transport: tr, Timeout: 5 * time.Second}}
}

// do sends one request and returns a 2xx answer's body, else an error
// with the answer.
func (r *Remote) do(method, path string) ([]byte, error) {
	return r.doContext(context.Background(), method, path)
}

func (r *Remote) doContext(ctx context.Context, method, path string) ([]byte, error) {
	req, _ := http.NewRequestWithContext(ctx, method, "http://"+r.Name+path, nil)
	resp, err := r.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", r.Name, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", r.Name, err)
	}
	if resp.StatusCode/100 != 2 {
		return nil, fmt.Errorf("%s: %s", r.Name, strings.TrimSpace(string(b)))
	}
	return b, nil
}

// Gather reads the child's /metrics and adds tier="Name" to every
// sample. A child that does not answer (restarting) gives nothing rather
// than failing the parent's whole scrape.
func (r *Remote) Gather() ([]*dto.MetricFamily, error) {
	b, err := r.do(http.MethodGet, "/metrics")
	if err != nil {
		return nil, nil
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(string(b)))
	if err != nil {
		return nil, fmt.Errorf("%s: parsing its metrics: %w", r.Name, err)
	}
	out := make([]*dto.MetricFamily, 0, len(fams))
	for _, f := range fams {
		for _, m := range f.Metric {
			m.Label = append(m.Label, &dto.LabelPair{Name: proto.String("tier"), Value: proto.String(r.Name)})
			if r.Process != "" {
				m.Label = append(m.Label, &dto.LabelPair{Name: proto.String("process"), Value: proto.String(r.Process)})
			}
			sort.Slice(m.Label, func(i, j int) bool { return m.Label[i].GetName() < m.Label[j].GetName() })
		}
		out = append(out, f)
	}
	return out, nil
}

// Status reads the child's /status.json (a copy of the answer read
// within the last statusFresh).
func (r *Remote) Status() (*Status, error) {
	r.mu.Lock()
	if time.Since(r.statusAt) >= statusFresh {
		ctx, cancel := context.WithTimeout(context.Background(), statusTimeout)
		r.status, r.statusErr = r.doContext(ctx, http.MethodGet, "/status.json")
		cancel()
		r.statusAt = time.Now()
	}
	b, err := r.status, r.statusErr
	r.mu.Unlock()
	if err != nil {
		return nil, err
	}
	var st Status
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("%s: its status: %w", r.Name, err)
	}
	return &st, nil
}

// Ready is the child's readiness, as its /readyz answers it, read from
// its status.
func (r *Remote) Ready() error {
	st, err := r.Status()
	switch {
	case err != nil:
		return err
	case !st.Ready:
		return fmt.Errorf("%s: not ready: %s", r.Name, st.NotReady)
	}
	return nil
}

// Post sends a control request (POST /workers/add …) and returns the
// answer's text.
func (r *Remote) Post(path string) (string, error) {
	b, err := r.do(http.MethodPost, path)
	return strings.TrimSpace(string(b)), err
}
