// Package devloop is `stack dev`'s edit-and-reload loop, as Django's
// autoreloader and FrankenPHP's --watch, but with the real edge kept in
// front: a Watcher polls the project tree, a Builder rebuilds the program
// on a Go change, and the Loop then chain-reloads the app server's workers
// (which start from the new binary) and tells the open pages, through the
// Hub's event stream and the script Inject adds to them, to reload.
//
// It knows no tier: the command line hands it the reload function.
package devloop

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"
)

// Loop turns file changes into builds, reloads and page refreshes.
type Loop struct {
	Watcher *Watcher
	Builder *Builder
	// Hub tells the pages; nil when the app is not in debug (no script,
	// no error page: the terminal alone says what happened).
	Hub *Hub
	// Restart chain-reloads the app server's workers, which start from
	// Builder.Out.
	Restart func() error
	// Config is the configuration file's absolute path ("" if none), and
	// ReloadConfig what a change to it does: SIGHUP's reload (the edge in
	// place, the workers chain-reloaded; an invalid file is refused and
	// the running configuration stays).
	Config       string
	ReloadConfig func() error
	// Static are the directories the edge serves itself: a change there
	// only needs the pages refreshed.
	Static []string
	// TemplateReload says the workers re-read changed templates themselves
	// (the framework does in debug); without it a template change restarts
	// the workers (still no rebuild).
	TemplateReload bool
	// Settle is how long a server may go on serving a changed file as it
	// read it before: the framework looks at its templates, and the edge
	// at its cached static files, at most once a second. The pages are
	// told to reload only then, or they would reload into the old file.
	Settle time.Duration
	// Logger receives a line per build and reload; Out (the terminal)
	// receives a failed build's compiler output.
	Logger *slog.Logger
	Out    io.Writer

	embedded map[string]bool // absolute paths of files the program embeds
	// changes are the watcher's, read during a build too: a save then
	// cancels it (nil: none come).
	changes <-chan Change
}

// Run watches and reacts until ctx is done. The first build has been made
// by the caller (the workers run it).
func (l *Loop) Run(ctx context.Context) error {
	changes := make(chan Change)
	l.changes = changes
	watchDone := make(chan struct{})
	go func() {
		defer close(watchDone)
		l.Watcher.Run(ctx, changes)
	}()
	defer func() { <-watchDone }()
	l.refreshEmbedded(ctx) // meanwhile the watcher already looks
	for {
		select {
		case <-ctx.Done():
			return nil
		case c := <-changes:
			l.handle(ctx, c)
		}
	}
}

// handle reacts to one change.
func (l *Loop) handle(ctx context.Context, c Change) {
	sort.Strings(c.Paths)
	what := strings.Join(c.Paths, ", ")
	if len(c.Paths) > 3 {
		what = fmt.Sprintf("%s and %d more", strings.Join(c.Paths[:3], ", "), len(c.Paths)-3)
	}
	switch l.classify(c) {
	case needBuild:
		l.rebuild(ctx, c, what, l.configIn(c))
	case configFile:
		l.Logger.Info("dev: the configuration changed; reloading it (as SIGHUP)", "file", what)
		if err := l.ReloadConfig(); err != nil {
			return // the reload said why
		}
		l.tell("config")
	case staticOnly:
		l.Logger.Info("dev: static files changed; refreshing the pages", "files", what)
		if l.settle(ctx) {
			l.tell("static")
		}
	default:
		if l.TemplateReload {
			l.Logger.Info("dev: templates changed; no rebuild (the workers re-read them)", "files", what)
			if !l.settle(ctx) {
				return
			}
		} else {
			l.Logger.Info("dev: files changed; restarting the workers (no rebuild)", "files", what)
			if err := l.Restart(); err != nil {
				if ctx.Err() == nil {
					l.Logger.Error("dev: restarting the workers", "err", err)
				}
				return
			}
		}
		l.tell("template")
	}
}

// settle waits Settle, or until ctx is done (then false).
func (l *Loop) settle(ctx context.Context) bool {
	select {
	case <-time.After(l.Settle):
		return true
	case <-ctx.Done():
		return false
	}
}

type kind int

const (
	needBuild kind = iota
	configFile
	staticOnly
	other
)

// classify says what a change needs: Go source, the module files and
// embedded files need a build; the configuration file a reload of it;
// files under the edge's static roots only a refresh; anything else
// (templates read from disk) a reload.
func (l *Loop) classify(c Change) kind {
	static := true
	for _, p := range c.Paths {
		abs := filepath.Join(l.Watcher.Root, p)
		base := filepath.Base(p)
		if strings.HasSuffix(base, ".go") || base == "go.mod" || base == "go.sum" || l.embedded[abs] {
			return needBuild
		}
		if !l.underStatic(abs) {
			static = false
		}
	}
	if l.configIn(c) {
		return configFile
	}
	if static {
		return staticOnly
	}
	return other
}

// configIn reports whether c changed the configuration file.
func (l *Loop) configIn(c Change) bool {
	for _, p := range c.Paths {
		if l.ReloadConfig != nil && filepath.Join(l.Watcher.Root, p) == l.Config {
			return true
		}
	}
	return false
}

func (l *Loop) underStatic(abs string) bool {
	for _, d := range l.Static {
		if rel, err := filepath.Rel(d, abs); err == nil && !strings.HasPrefix(rel, "..") {
			return true
		}
	}
	return false
}

// rebuild builds; on success it restarts the workers on the new binary and
// refreshes the pages; on failure the last good build keeps serving and
// the errors go to the terminal and, in debug, to the pages.
// With config, the configuration changed too: it is reloaded, which
// chain-reloads the workers as well.
//
// A change saved during the build cancels it, and c and the new change are
// handled as one: the build under way compiles files that are stale
// already, and one that hangs (a cgo include of a pipe, a go command
// waiting on the network) would otherwise hold the loop for good, the
// save that fixes it never seen.
func (l *Loop) rebuild(ctx context.Context, c Change, what string, config bool) {
	l.Logger.Info("dev: rebuilding", "files", what)
	start := time.Now()
	bctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type result struct {
		out []byte
		err error
	}
	done := make(chan result, 1)
	go func() {
		out, err := l.Builder.Build(bctx)
		done <- result{out, err}
	}()
	var r result
	select {
	case r = <-done:
	case next := <-l.changes:
		cancel()
		<-done // the go command and its compilers are gone
		l.Logger.Info("dev: files changed during the build; starting it again", "files", strings.Join(next.Paths, ", "))
		merged := Change{Paths: append([]string(nil), c.Paths...)}
		for _, p := range next.Paths {
			if !slices.Contains(merged.Paths, p) {
				merged.Paths = append(merged.Paths, p)
			}
		}
		l.handle(ctx, merged)
		return
	}
	out, err := r.out, r.err
	if ctx.Err() != nil {
		return
	}
	if err != nil {
		fmt.Fprintf(l.Out, "stack dev: build failed; the last good build keeps serving:\n%s\n", strings.TrimRight(string(out), "\n"))
		l.Logger.Error("dev: build failed", "err", err)
		if l.Hub != nil {
			l.Hub.Built(string(out), false)
		}
		return
	}
	l.Logger.Info("dev: build ok; chain-reloading the workers", "took", time.Since(start).Round(time.Millisecond))
	restart := l.Restart
	if config {
		restart = l.ReloadConfig
	}
	if err := restart(); err != nil {
		if ctx.Err() != nil {
			return // the stack is stopping
		}
		// The new build compiled but its workers did not start (a panic
		// at init): the old workers still serve; the old binary is put
		// back so that a worker respawned later is one of them too.
		l.Logger.Error("dev: reloading the workers on the new build", "err", err)
		if rerr := l.Builder.Restore(); rerr != nil {
			l.Logger.Error("dev: the broken build stays in place", "err", rerr)
		}
		msg := fmt.Sprintf("the new build does not start; the last good build keeps serving:\n%v", err)
		fmt.Fprintf(l.Out, "stack dev: %s\n", msg)
		if l.Hub != nil {
			l.Hub.Built(msg, false)
		}
		return
	}
	if l.Hub != nil {
		l.Hub.Built("", true)
	}
	l.tell("build")
	l.refreshEmbedded(ctx)
}

func (l *Loop) tell(reason string) {
	if l.Hub != nil {
		l.Hub.Reload(reason)
	}
}

// refreshEmbedded re-reads the list of embedded files; on failure the old
// list stays (a broken go.mod is reported by the next build).
func (l *Loop) refreshEmbedded(ctx context.Context) {
	files, err := l.Builder.EmbeddedFiles(ctx)
	if err != nil {
		if ctx.Err() == nil {
			l.Logger.Warn("dev: listing embedded files", "err", err)
		}
		return
	}
	l.embedded = files
}
