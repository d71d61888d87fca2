package bench

import (
	"fmt"
	"math"
	"sort"
	"strings"
)

// conclude says in plain words which of the classic claims held on this
// machine, and by how much. Every sentence is computed from the cells;
// a claim whose ways did not run is left out.
func conclude(r *Report) []string {
	var out []string
	cpu := meanBy(r, func(c Cell) float64 { return c.CPUPerReqUs })
	title := map[string]string{}
	for _, c := range r.Cells {
		title[c.Way] = c.Title
	}

	// CGI forks a process per request.
	if cgi, ok := cpu["cgi"]; ok {
		most := true
		for w, v := range cpu {
			// The slow-client ways' CPU is the slow clients' work, spread
			// over few fast requests: not a cost per request of the way.
			if w != "cgi" && !strings.HasSuffix(w, "-slow") && v >= cgi {
				most = false
			}
		}
		held := "held"
		if !most {
			held = "did NOT hold"
		}
		s := fmt.Sprintf("CGI costs the most CPU per request: %s (%.0f µs per request", held, cgi)
		if u, ok := cpu["uwsgi-p0"]; ok && u > 0 {
			s += fmt.Sprintf(", %.1f× uwsgi's %.0f µs", cgi/u, u)
		}
		out = append(out, s+").")
	}
	// FastCGI and uwsgi keep long-lived workers; which is cheaper here.
	if f, ok := cpu["fastcgi"]; ok {
		if u, ok := cpu["uwsgi-p0"]; ok && u > 0 {
			out = append(out, fmt.Sprintf("FastCGI (net/http/fcgi) costs %.0f µs of CPU per request through the edge, uwsgi %.0f µs (%+.0f%%).", f, u, 100*(f-u)/u))
		}
	}
	// uwsgi is the cheapest on the wire.
	if u, h := r.Wire["uwsgi"], r.Wire["http"]; u > 0 && h > 0 {
		rel := "smaller"
		if u > h {
			rel = "larger"
		}
		s := fmt.Sprintf("uwsgi is the cheapest protocol on the wire: for the same GET the edge sends %d bytes over uwsgi, %d over FastCGI and %d over HTTP; uwsgi's request is %.0f%% %s than HTTP's",
			u, r.Wire["fastcgi"], h, math.Abs(100*float64(u-h)/float64(h)), rel)
		if u > h {
			s += " — the claim did NOT hold in bytes: the CGI variables (REQUEST_URI, PATH_INFO, SERVER_NAME, REMOTE_ADDR...) restate what HTTP's request line and Host say once, and every header gains \"HTTP_\" and 4 length bytes; what uwsgi saves is parsing (lengths instead of scanning for line ends), not bytes."
		} else {
			s += "."
		}
		out = append(out, s)
	}
	// Worker processes.
	if p0, ok := cpu["uwsgi-p0"]; ok {
		if p2, ok := cpu["uwsgi-p2"]; ok && p0 > 0 {
			out = append(out, fmt.Sprintf("Two worker processes behind one socket cost %.0f µs per request against %.0f µs in one process (%+.0f%%): isolation and recycling are not free.", p2, p0, 100*(p2-p0)/p0))
		}
	}
	// One tier is faster on a fast network; what the tiers cost.
	maxConns := 0
	for _, c := range r.Connections {
		maxConns = max(maxConns, c)
	}
	rps := func(way string) (float64, bool) {
		for _, c := range r.Cells {
			if c.Way == way && c.Connections == maxConns {
				return c.RPS, true
			}
		}
		return 0, false
	}
	if one, ok := rps("one-tier"); ok {
		if three, ok := rps("uwsgi-p0"); ok && three > 0 {
			out = append(out, fmt.Sprintf("With fast clients, net/http alone (the runserver shape) serves %.0f req/s at %s, %.1f× the three tiers' %.0f: the edge and the app server cost CPU on every request; they earn it elsewhere.", one, connections(maxConns), one/three, three))
		}
	}
	// The proxy protects the workers from slow clients.
	p99 := map[string]map[int]float64{}
	for _, c := range r.Cells {
		if p99[c.Way] == nil {
			p99[c.Way] = map[int]float64{}
		}
		p99[c.Way][c.Connections] = c.P99ms
	}
	if one, ok := p99["one-tier-slow"]; ok {
		if three, ok := p99["three-tier-slow"]; ok {
			conns := make([]int, 0, len(one))
			for c := range one {
				if _, ok := three[c]; ok {
					conns = append(conns, c)
				}
			}
			sort.Ints(conns)
			held := true
			var parts []string
			for _, c := range conns {
				parts = append(parts, fmt.Sprintf("%.1f ms against %.1f ms at %d", one[c], three[c], c))
				if one[c] <= three[c] {
					held = false
				}
			}
			verdict := "held"
			if !held {
				verdict = "did NOT hold everywhere"
			}
			if len(parts) > 0 {
				out = append(out, fmt.Sprintf("The proxy protects the workers from slow clients: %s. With %d slow clients each uploading %d KiB at 20 KiB/s and %d app threads, the fast clients' p99 was, one tier against three: %s connections.", verdict, slowClients, slowBody>>10, slowThreads, join(parts)))
			}
		}
	}
	// Honest counting.
	for _, c := range r.Cells {
		failed := 0
		for _, v := range c.Errors {
			failed += v
		}
		if failed+c.Status5xx > 0 {
			out = append(out, fmt.Sprintf("%s at %s: %d requests failed and %d got 5xx (counted, never retried).", c.Title, connections(c.Connections), failed, c.Status5xx))
		}
	}
	return out
}

// meanBy averages value over each way's cells.
func meanBy(r *Report, value func(Cell) float64) map[string]float64 {
	sum, n := map[string]float64{}, map[string]int{}
	for _, c := range r.Cells {
		if c.Requests+c.Unfinished == 0 {
			continue
		}
		sum[c.Way] += value(c)
		n[c.Way]++
	}
	for w := range sum {
		sum[w] /= float64(n[w])
	}
	return sum
}

func join(parts []string) string {
	switch len(parts) {
	case 0:
		return ""
	case 1:
		return parts[0]
	}
	s := ""
	for i, p := range parts {
		switch {
		case i == 0:
			s = p
		case i == len(parts)-1:
			s += " and " + p
		default:
			s += ", " + p
		}
	}
	return s
}
