package bench

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Table is the report as a markdown table, one row per way and concurrency.
func (r *Report) Table() string {
	var b strings.Builder
	b.WriteString("| way | conns | req/s | p50 ms | p99 ms | server CPU µs/req | memory MiB (processes) | read+write syscalls/req | request bytes between tiers | errors |\n")
	b.WriteString("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |\n")
	for _, c := range r.Cells {
		wire := "—"
		if c.WireBytes > 0 {
			wire = strconv.Itoa(c.WireBytes)
		}
		fmt.Fprintf(&b, "| %s | %d | %.0f | %.2f | %.2f | %.0f | %.1f (%d) | %.1f | %s | %s |\n",
			c.Title, c.Connections, c.RPS, c.P50ms, c.P99ms, c.CPUPerReqUs, c.MemoryMiB, c.Processes, c.SyscallsReq, wire, errorText(c))
	}
	return b.String()
}

func errorText(c Cell) string {
	var parts []string
	if c.Status5xx > 0 {
		parts = append(parts, fmt.Sprintf("%d × 5xx", c.Status5xx))
	}
	keys := make([]string, 0, len(c.Errors))
	for k := range c.Errors {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if c.Errors[k] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", c.Errors[k], k))
		}
	}
	if c.Unfinished > 0 {
		parts = append(parts, fmt.Sprintf("%d unanswered at the end", c.Unfinished))
	}
	if len(parts) == 0 {
		return "0"
	}
	return strings.Join(parts, ", ")
}

// write puts results.md (table and conclusions), results.json,
// results.csv, throughput.svg and p99.svg in dir.
func (r *Report) write(dir string) error {
	var md strings.Builder
	fmt.Fprintf(&md, "app `%s`, %s per cell, %d CPUs\n\n", r.App, r.Duration, r.CPUs)
	md.WriteString(r.Table())
	md.WriteString("\n")
	for _, c := range r.Conclusions {
		fmt.Fprintf(&md, "- %s\n", c)
	}
	for _, f := range r.Failures {
		fmt.Fprintf(&md, "- failed: %s\n", f)
	}
	js, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	files := map[string][]byte{
		"results.md":     []byte(md.String()),
		"results.json":   append(js, '\n'),
		"results.csv":    []byte(r.csv()),
		"throughput.svg": []byte(lineChart("Throughput against concurrency ("+r.App+")", "requests per second", r.Connections, r.series(func(c Cell) float64 { return c.RPS }))),
		"p99.svg":        []byte(lineChart("p99 latency against concurrency ("+r.App+")", "p99 latency, ms", r.Connections, r.series(func(c Cell) float64 { return c.P99ms }))),
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			return fmt.Errorf("bench: writing %s: %w", name, err)
		}
	}
	return nil
}

func (r *Report) csv() string {
	var b strings.Builder
	w := csv.NewWriter(&b)
	w.Write([]string{"way", "title", "connections", "requests", "rps", "p50_ms", "p99_ms", "cpu_us_per_request", "memory_mib", "processes", "read_write_syscalls_per_request", "wire_bytes_per_request", "status_5xx", "failed", "unfinished"})
	for _, c := range r.Cells {
		failed := 0
		for _, v := range c.Errors {
			failed += v
		}
		f := func(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) }
		w.Write([]string{c.Way, c.Title, strconv.Itoa(c.Connections), strconv.Itoa(c.Requests), f(c.RPS), f(c.P50ms), f(c.P99ms),
			f(c.CPUPerReqUs), f(c.MemoryMiB), strconv.Itoa(c.Processes), f(c.SyscallsReq), strconv.Itoa(c.WireBytes), strconv.Itoa(c.Status5xx), strconv.Itoa(failed), strconv.Itoa(c.Unfinished)})
	}
	w.Flush()
	return b.String()
}

// series is one line per way, in the order the ways ran.
func (r *Report) series(value func(Cell) float64) []series {
	var out []series
	index := map[string]int{}
	for _, c := range r.Cells {
		i, ok := index[c.Title]
		if !ok {
			i = len(out)
			index[c.Title] = i
			out = append(out, series{name: c.Title, points: map[int]float64{}})
		}
		out[i].points[c.Connections] = value(c)
	}
	return out
}
