package devloop

import (
	"context"
	"io/fs"
	"path/filepath"
	"strings"
	"time"
)

// Change is what a Watcher saw change between two looks at the tree: the
// files added, modified or removed, with their paths relative to the root.
type Change struct {
	Paths []string
}

// Watcher polls a project tree for changed files, as Django's StatReloader
// does when watchman is absent: a walk every Interval comparing each file's
// size and modification time. Polling needs no dependency, sees files that
// editors replace by renaming, and a project's tree is small enough that a
// walk costs well under a millisecond.
type Watcher struct {
	// Root is the project directory.
	Root string
	// Skip are directories not to look into (the run directory, where the
	// database and sockets change all the time), absolute or relative to
	// Root. Hidden directories (.git) and files, and files that change by
	// themselves (a database, logs, swap files: see noise), are always
	// skipped.
	Skip []string
	// Interval is the pause between two walks.
	Interval time.Duration

	base map[string]stamp // what Run compares its first walk with
}

// Baseline records the tree as it is now: Run reports what changed since.
// Taken before the first build, so that a file saved during that build is
// built again. Without it Run starts from its own first walk.
func (w *Watcher) Baseline() {
	w.base = w.snapshot()
}

// stamp identifies one version of a file.
type stamp struct {
	size int64
	mod  int64 // nanoseconds
}

// snapshot walks the tree once.
func (w *Watcher) snapshot() map[string]stamp {
	skip := make(map[string]bool, len(w.Skip))
	for _, s := range w.Skip {
		if !filepath.IsAbs(s) {
			s = filepath.Join(w.Root, s)
		}
		skip[filepath.Clean(s)] = true
	}
	files := map[string]stamp{}
	filepath.WalkDir(w.Root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // a file removed during the walk: seen as removed next time
		}
		name := d.Name()
		if d.IsDir() {
			if path != w.Root && (strings.HasPrefix(name, ".") || skip[path]) {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasPrefix(name, ".") || strings.HasSuffix(name, "~") || !d.Type().IsRegular() || noise(name) {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return nil
		}
		rel, _ := filepath.Rel(w.Root, path)
		files[rel] = stamp{info.Size(), info.ModTime().UnixNano()}
		return nil
	})
	return files
}

// noiseSuffixes end the names of files that change while the program runs
// or while an editor works, never as an edit to the project: a SQLite
// database kept in the project (Django's db.sqlite3) and its journals,
// logs, sockets, editors' swap files.
var noiseSuffixes = []string{".db", ".sqlite", ".sqlite3", "-journal", "-wal", "-shm", ".log", ".pid", ".sock", ".swp", ".swx", ".tmp"}

func noise(name string) bool {
	for _, suf := range noiseSuffixes {
		if strings.HasSuffix(name, suf) {
			return true
		}
	}
	return false
}

// Run sends a Change on changes each time the tree changed and then stayed
// quiet for one Interval (an editor saving several files, or a git
// checkout, is one change). It returns when ctx is done.
func (w *Watcher) Run(ctx context.Context, changes chan<- Change) error {
	tick := time.NewTicker(w.Interval)
	defer tick.Stop()
	last := w.base
	if last == nil {
		last = w.snapshot()
	}
	var pending map[string]bool
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		now := w.snapshot()
		diff := changed(last, now)
		last = now
		if len(diff) > 0 {
			if pending == nil {
				pending = map[string]bool{}
			}
			for _, p := range diff {
				pending[p] = true
			}
			continue // wait for a quiet interval
		}
		if pending == nil {
			continue
		}
		c := Change{}
		for p := range pending {
			c.Paths = append(c.Paths, p)
		}
		pending = nil
		select {
		case changes <- c:
		case <-ctx.Done():
			return nil
		}
	}
}

// changed lists the paths that differ between two snapshots.
func changed(old, now map[string]stamp) []string {
	var out []string
	for p, s := range now {
		if o, ok := old[p]; !ok || o != s {
			out = append(out, p)
		}
	}
	for p := range old {
		if _, ok := now[p]; !ok {
			out = append(out, p)
		}
	}
	return out
}
