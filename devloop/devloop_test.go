package devloop

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestInject(t *testing.T) {
	tests := []struct {
		name, ctype, body, method string
		flush                     bool
		want                      string
	}{
		{"before body end", "text/html; charset=utf-8", "<html><body>hi</BODY></html>", "GET", false, "<html><body>hi" + Script + "</BODY></html>"},
		{"no body tag", "text/html", "<p>hi", "GET", false, "<p>hi" + Script},
		{"sniffed html", "", "<!doctype html><html><body>x</body></html>", "GET", false, "<!doctype html><html><body>x" + Script + "</body></html>"},
		{"not html", "application/json", `{"a":1}`, "GET", false, `{"a":1}`},
		{"streamed", "text/html", "<body>part</body>", "GET", true, "<body>part</body>"},
		{"head as its get (the server drops the body)", "text/html", "", "HEAD", false, Script},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := Inject(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tt.ctype != "" {
					w.Header().Set("Content-Type", tt.ctype)
				}
				half := len(tt.body) / 2
				io.WriteString(w, tt.body[:half])
				if tt.flush {
					w.(http.Flusher).Flush()
				}
				io.WriteString(w, tt.body[half:])
			}))
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(tt.method, "/", nil))
			if got := rec.Body.String(); got != tt.want {
				t.Errorf("body = %q, want %q", got, tt.want)
			}
			if cl := rec.Header().Get("Content-Length"); strings.Contains(tt.want, Script) && cl == "" {
				t.Errorf("an injected page has no Content-Length")
			}
		})
	}
}

func TestInjectKeepsStatus(t *testing.T) {
	h := Inject(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, "<body>missing</body>")
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != 404 || !strings.Contains(rec.Body.String(), Script) {
		t.Errorf("got %d %q, want 404 with the script", rec.Code, rec.Body.String())
	}
}

func TestClassify(t *testing.T) {
	root := t.TempDir()
	l := &Loop{
		Watcher:      &Watcher{Root: root},
		Static:       []string{filepath.Join(root, "static")},
		Config:       filepath.Join(root, "stack.yaml"),
		ReloadConfig: func() error { return nil },
		embedded:     map[string]bool{filepath.Join(root, "web/templates/index.html"): true},
	}
	tests := []struct {
		paths []string
		want  kind
	}{
		{[]string{"main.go"}, needBuild},
		{[]string{"go.mod"}, needBuild},
		{[]string{"static/x.css", "internal/views.go"}, needBuild},
		{[]string{"web/templates/index.html"}, needBuild}, // embedded
		{[]string{"static/x.css", "static/js/app.js"}, staticOnly},
		{[]string{"templates/page.html"}, other},
		{[]string{"static/x.css", "templates/page.html"}, other},
		{[]string{"staticfiles/x.css"}, other},
		{[]string{"stack.yaml"}, configFile},
		{[]string{"stack.yaml", "templates/page.html"}, configFile},
		{[]string{"stack.yaml", "main.go"}, needBuild},
		{[]string{"deploy/stack.yaml"}, other},
	}
	for _, tt := range tests {
		if got := l.classify(Change{Paths: tt.paths}); got != tt.want {
			t.Errorf("classify(%v) = %d, want %d", tt.paths, got, tt.want)
		}
	}
}

func TestWatcherSnapshot(t *testing.T) {
	root := t.TempDir()
	write := func(name, body string) {
		p := filepath.Join(root, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("main.go", "package main")
	write("run/app.db", "x")
	write(".git/HEAD", "x")
	write("templates/a.html", "a")
	w := &Watcher{Root: root, Skip: []string{"run"}}
	before := w.snapshot()
	if _, ok := before["run/app.db"]; ok {
		t.Errorf("the skipped run directory was walked")
	}
	if _, ok := before[".git/HEAD"]; ok {
		t.Errorf("a hidden directory was walked")
	}
	write("templates/a.html", "ab")
	write("run/app.db", "xy")
	write("main.go~", "backup")
	write("db.sqlite3", "votes")
	write("db.sqlite3-journal", "votes")
	write(".main.go.swp", "vim")
	os.Remove(filepath.Join(root, "main.go"))
	got := changed(before, w.snapshot())
	if strings.Join(sorted(got), ",") != "main.go,templates/a.html" {
		t.Errorf("changed = %v, want main.go (removed) and templates/a.html", got)
	}
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}

// TestWatcherRun: a change made after the baseline is reported once.
func TestWatcherRun(t *testing.T) {
	root := t.TempDir()
	os.WriteFile(filepath.Join(root, "main.go"), []byte("package main"), 0o644)
	w := &Watcher{Root: root, Interval: 10 * time.Millisecond}
	w.Baseline()
	os.WriteFile(filepath.Join(root, "main.go"), []byte("package main // changed"), 0o644)
	ctx, cancel := context.WithCancel(context.Background())
	changes := make(chan Change)
	done := make(chan error)
	go func() { done <- w.Run(ctx, changes) }()
	select {
	case c := <-changes:
		if len(c.Paths) != 1 || c.Paths[0] != "main.go" {
			t.Errorf("change = %v, want main.go", c.Paths)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no change reported")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestHubEvents: a page's stream gets the build error (also when it opens
// after the failure) and the reloads; Close ends the stream.
func TestHubEvents(t *testing.T) {
	h := &Hub{}
	h.Built("", true)
	h.Built("./main.go:3:1: syntax error", false)
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, err := http.Get(srv.URL + Prefix + "events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type = %q", ct)
	}
	sc := bufio.NewScanner(resp.Body)
	next := func() (name, data string) {
		for sc.Scan() {
			line := sc.Text()
			if v, ok := strings.CutPrefix(line, "event: "); ok {
				name = v
			} else if v, ok := strings.CutPrefix(line, "data: "); ok {
				data = v
			} else if line == "" && name != "" {
				return name, data
			}
		}
		return "", ""
	}
	if name, data := next(); name != "hello" || data == "" {
		t.Errorf("first event = %s %s, want hello with the process's id", name, data)
	}
	if name, data := next(); name != "builderror" || !strings.Contains(data, "syntax error") {
		t.Errorf("second event = %s %s, want the pending build error", name, data)
	}
	h.Built("", true)
	h.Reload("build")
	if name, _ := next(); name != "reload" {
		t.Errorf("event after a good build = %q, want reload", name)
	}
	if st := h.Status(); st.Builds != 2 || st.Failed != 1 || st.Error != "" || st.Reloads != 1 {
		t.Errorf("status = %+v", st)
	}
	h.Close()
	if name, _ := next(); name != "" {
		t.Errorf("stream after Close gave %q, want its end", name)
	}
}

// TestHandleWithoutBuild: a template change restarts the workers only when
// they do not re-read templates themselves (no debug), and a static change
// never does; neither builds (the Builder would fail: there is no module).
func TestHandleWithoutBuild(t *testing.T) {
	root := t.TempDir()
	for _, reread := range []bool{true, false} {
		restarts := 0
		h := &Hub{}
		l := &Loop{
			Watcher:        &Watcher{Root: root},
			Builder:        &Builder{Dir: root, Out: filepath.Join(root, "app")},
			Hub:            h,
			Restart:        func() error { restarts++; return nil },
			Static:         []string{filepath.Join(root, "static")},
			TemplateReload: reread,
			Settle:         time.Millisecond,
			Logger:         slog.New(slog.NewTextHandler(io.Discard, nil)),
			Out:            io.Discard,
		}
		ctx := context.Background()
		l.handle(ctx, Change{Paths: []string{"templates/page.html"}})
		l.handle(ctx, Change{Paths: []string{"static/site.css"}})
		wantRestarts := 1
		if reread {
			wantRestarts = 0
		}
		st := h.Status()
		if restarts != wantRestarts || st.Reloads != 2 || st.Builds != 0 || st.Failed != 0 {
			t.Errorf("templates re-read %v: %d restarts, status %+v; want %d restarts, 2 reloads, no build", reread, restarts, st, wantRestarts)
		}
	}
}

// TestBuilder: a good build replaces Out, a broken one leaves the last good
// build in place and returns the compiler's errors; the embedded files of
// the program's packages are listed.
func TestBuilder(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"go.mod":          "module example.com/tiny\n\ngo 1.22\n",
		"main.go":         "package main\n\nimport _ \"embed\"\n\n//go:embed page.html\nvar page string\n\nfunc main() { println(page) }\n",
		"page.html":       "<p>hi</p>\n",
		"templates/x.txt": "not embedded\n",
	}
	for name, body := range files {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b := &Builder{Dir: dir, Out: filepath.Join(t.TempDir(), "app"), Flags: []string{"-ldflags=-s -w"}}
	ctx := context.Background()
	if out, err := b.Build(ctx); err != nil {
		t.Fatalf("Build: %v\n%s", err, out)
	}
	good, err := os.ReadFile(b.Out)
	if err != nil {
		t.Fatal(err)
	}
	embedded, err := b.EmbeddedFiles(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !embedded[filepath.Join(dir, "page.html")] || len(embedded) != 1 {
		t.Errorf("EmbeddedFiles = %v, want only page.html", embedded)
	}

	os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\n\nfunc main() { println(\"x\" }\n"), 0o644)
	out, err := b.Build(ctx)
	if err == nil || !strings.Contains(string(out), "main.go:3") {
		t.Fatalf("a broken build: err %v, output %q; want an error naming main.go:3", err, out)
	}
	if now, _ := os.ReadFile(b.Out); string(now) != string(good) {
		t.Errorf("a failed build changed the last good build")
	}
	if _, err := os.Stat(b.Out + ".new"); err == nil {
		t.Errorf("a failed build left %s.new", b.Out)
	}
}

// TestRebuildThatDoesNotStart: a build that compiles but whose workers do
// not start (a panic at init) must not stay as the binary the workers are
// started from, or the next respawned worker crash-loops on it; the pages
// are told it failed.
func TestRebuildThatDoesNotStart(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.com/tiny\n\ngo 1.22\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\n\nfunc main() { println(1) }\n"), 0o644)
	b := &Builder{Dir: dir, Out: filepath.Join(t.TempDir(), "app"), Flags: []string{"-ldflags=-s -w"}}
	ctx := context.Background()
	if out, err := b.Build(ctx); err != nil {
		t.Fatalf("Build: %v\n%s", err, out)
	}
	good, _ := os.ReadFile(b.Out)
	os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\n\nfunc init() { panic(2) }\n\nfunc main() {}\n"), 0o644)
	h := &Hub{}
	var term strings.Builder
	l := &Loop{
		Watcher: &Watcher{Root: dir},
		Builder: b,
		Hub:     h,
		Restart: func() error { return errors.New("the new worker exited before it was ready: exit status 2") },
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
		Out:     &term,
	}
	l.rebuild(ctx, Change{Paths: []string{"main.go"}}, "main.go", false)
	if now, _ := os.ReadFile(b.Out); string(now) != string(good) {
		t.Errorf("the build whose workers did not start is still %s: a respawned worker would run it", b.Out)
	}
	st := h.Status()
	if st.Failed != 1 || st.Builds != 0 || !strings.Contains(st.Error, "exited before it was ready") {
		t.Errorf("status %+v: want one failure naming the worker's exit", st)
	}
	if !strings.Contains(term.String(), "last good build keeps serving") {
		t.Errorf("terminal: %q", term.String())
	}
}

// TestBuildCancelLeavesNoWorkDir: a build cancelled midway (Ctrl-C, a new
// save) kills the go command, which then cannot remove its go-build*
// work directory; nothing may be left in $TMPDIR or beside the binary.
func TestBuildCancelLeavesNoWorkDir(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.com/tiny\n\ngo 1.22\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\n\nimport \"net/http\"\n\nfunc main() { http.ListenAndServe(\"\", nil) }\n"), 0o644)
	outDir := t.TempDir()
	// -a rebuilds the standard library: long enough to be cancelled.
	b := &Builder{Dir: dir, Out: filepath.Join(outDir, "app"), Flags: []string{"-a"}}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(1500*time.Millisecond, cancel)
	if _, err := b.Build(ctx); err != context.Canceled {
		t.Fatalf("Build: %v, want context.Canceled (the build ended before the cancel?)", err)
	}
	for _, d := range []string{tmp, outDir} {
		if left, _ := os.ReadDir(d); len(left) > 0 {
			t.Errorf("a cancelled build left %s/%s", d, left[0].Name())
		}
	}
}

// TestInjectHeadAndRanges: a HEAD announces the Content-Length its GET
// sends (the page with the script), and a part of a page (206) is left
// as it is, or the bytes would not match its Content-Range.
func TestInjectHeadAndRanges(t *testing.T) {
	page := "<html><body>0123456789</body></html>"
	h := Inject(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		if r.Header.Get("Range") != "" {
			w.Header().Set("Content-Range", "bytes 0-9/"+strconv.Itoa(len(page)))
			w.WriteHeader(http.StatusPartialContent)
			io.WriteString(w, page[:10])
			return
		}
		io.WriteString(w, page)
	}))
	lengths := map[string]string{}
	for _, m := range []string{"GET", "HEAD"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(m, "/", nil))
		lengths[m] = rec.Header().Get("Content-Length")
	}
	if lengths["GET"] == "" || lengths["HEAD"] != lengths["GET"] {
		t.Errorf("Content-Length: GET %q, HEAD %q; want the same", lengths["GET"], lengths["HEAD"])
	}
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set("Range", "bytes=0-9")
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusPartialContent || rec.Body.String() != page[:10] {
		t.Errorf("206: %d %q, want the part untouched", rec.Code, rec.Body.String())
	}
}

// TestSaveDuringAHungBuild: a build that hangs (here every compiler step
// waits while a marker file exists) must not hold the loop: the next save
// cancels it and builds again, and that build's workers are started.
func TestSaveDuringAHungBuild(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.com/tiny\n\ngo 1.22\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\n\nfunc main() { println(1) }\n"), 0o644)
	marker := filepath.Join(t.TempDir(), "hang")
	os.WriteFile(marker, nil, 0o644)
	tool := filepath.Join(t.TempDir(), "toolexec")
	os.WriteFile(tool, []byte("#!/bin/sh\n[ -e "+marker+" ] && sleep 120\nexec \"$@\"\n"), 0o755)
	changes := make(chan Change, 1)
	restarted := make(chan struct{}, 4)
	l := &Loop{
		Watcher: &Watcher{Root: dir},
		Builder: &Builder{Dir: dir, Out: filepath.Join(t.TempDir(), "app"), Flags: []string{"-toolexec", tool}},
		Restart: func() error { restarted <- struct{}{}; return nil },
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
		Out:     io.Discard,
		changes: changes,
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel() // a build still hung when the test fails is killed
	done := make(chan struct{})
	go func() {
		defer close(done)
		l.rebuild(ctx, Change{Paths: []string{"main.go"}}, "main.go", false)
	}()
	time.Sleep(time.Second) // the build is under way, and hangs
	os.Remove(marker)       // the save that fixes it
	changes <- Change{Paths: []string{"main.go"}}
	select {
	case <-restarted:
	case <-time.After(60 * time.Second):
		t.Fatal("a save during a hung build was not built: the loop waits on the hung build")
	}
	<-done
	if _, err := os.Stat(l.Builder.Out); err != nil {
		t.Errorf("no build installed: %v", err)
	}
}
