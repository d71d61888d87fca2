package e2e

import (
	"encoding/csv"
	"encoding/json"
	"encoding/xml"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Issue 13: `stack bench protocols --quick` runs every way and writes the
// table, JSON, CSV and SVG plots with one line per way. The relations that
// hold on any machine are asserted (CGI costs the most CPU per request; the
// bytes-on-the-wire figures are the same for every way of a protocol);
// rates are logged, never asserted.
func TestBenchProtocolsQuick(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	stdout, stderr, code := run(t, dir, "bench", "protocols", "--quick", "--duration", "400ms", "--warmup", "150ms", "--connections", "1,8", "--out", out)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	t.Logf("\n%s", stdout)
	if !strings.Contains(stderr, "bench: [1/8]") || !strings.Contains(stderr, "left)") {
		t.Errorf("no progress lines:\n%s", stderr)
	}

	var rep struct {
		Ways  []string       `json:"ways"`
		Wire  map[string]int `json:"wire_bytes"`
		Cells []struct {
			Way         string  `json:"way"`
			Title       string  `json:"title"`
			Connections int     `json:"connections"`
			Requests    int     `json:"requests"`
			CPU         float64 `json:"cpu_us_per_request"`
			WireBytes   int     `json:"wire_bytes_per_request"`
		} `json:"cells"`
		Conclusions []string `json:"conclusions"`
	}
	b, err := os.ReadFile(filepath.Join(out, "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatalf("results.json: %v", err)
	}
	wantWays := []string{"cgi", "fastcgi", "uwsgi-p0", "uwsgi-p2", "http", "one-tier", "one-tier-slow", "three-tier-slow"}
	if len(rep.Ways) != len(wantWays) || len(rep.Cells) != 2*len(wantWays) {
		t.Fatalf("%d ways, %d cells; want %d and %d", len(rep.Ways), len(rep.Cells), len(wantWays), 2*len(wantWays))
	}
	cpu := map[string]float64{}
	for i, c := range rep.Cells {
		if c.Way != wantWays[i/2] {
			t.Errorf("cell %d is %s, want %s", i, c.Way, wantWays[i/2])
		}
		cpu[c.Way] += c.CPU / 2
		if proto := map[string]string{"fastcgi": "fastcgi", "uwsgi-p0": "uwsgi", "uwsgi-p2": "uwsgi", "http": "http", "three-tier-slow": "uwsgi"}[c.Way]; proto != "" && c.WireBytes != rep.Wire[proto] {
			t.Errorf("%s: %d bytes on the wire, the %s encoding is %d", c.Way, c.WireBytes, proto, rep.Wire[proto])
		}
		if c.Way != "one-tier-slow" && c.Way != "cgi" && c.Requests == 0 {
			t.Errorf("%s at %d connections served nothing", c.Way, c.Connections)
		}
	}
	for w, v := range cpu {
		// The slow-client ways' CPU is the slow clients' work over few
		// fast requests, not a cost per request.
		if w != "cgi" && !strings.HasSuffix(w, "-slow") && v >= cpu["cgi"] {
			t.Errorf("%s costs %.0f µs per request, CGI %.0f: CGI should cost the most", w, v, cpu["cgi"])
		}
	}
	if rep.Wire["uwsgi"] == 0 || rep.Wire["fastcgi"] == 0 || rep.Wire["http"] == 0 || len(rep.Conclusions) < 3 {
		t.Errorf("wire %v, conclusions %q", rep.Wire, rep.Conclusions)
	}
	if !strings.Contains(strings.Join(rep.Conclusions, "\n"), "CGI costs the most CPU per request: held") {
		t.Errorf("the conclusion disagrees with the figures: %q", rep.Conclusions)
	}

	f, err := os.Open(filepath.Join(out, "results.csv"))
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(f).ReadAll()
	f.Close()
	if err != nil || len(rows) != 1+len(rep.Cells) {
		t.Errorf("results.csv: %d rows, err %v", len(rows), err)
	}
	if md, _ := os.ReadFile(filepath.Join(out, "results.md")); !strings.Contains(string(md), "| way | conns | req/s |") {
		t.Errorf("results.md has no table:\n%s", md)
	}

	for _, name := range []string{"throughput.svg", "p99.svg"} {
		f, err := os.Open(filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		lines := map[string]bool{}
		d := xml.NewDecoder(f)
		root := ""
		for {
			tok, err := d.Token()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("%s is not XML: %v", name, err)
			}
			if se, ok := tok.(xml.StartElement); ok {
				if root == "" {
					root = se.Name.Local
				}
				if se.Name.Local == "polyline" {
					for _, a := range se.Attr {
						if a.Name.Local == "data-way" {
							lines[a.Value] = true
						}
					}
				}
			}
		}
		f.Close()
		if root != "svg" || len(lines) != len(rep.Ways) {
			t.Errorf("%s: root <%s>, %d lines for %d ways: %v", name, root, len(lines), len(rep.Ways), lines)
		}
	}
}
