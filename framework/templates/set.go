package templates

import (
	"bytes"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Options configures a Set.
type Options struct {
	// Sources are searched in order for a template name, as Django's loaders do:
	// the project's folders first, then each app's folder in app order. A name
	// found in an earlier source hides the same name in later ones. Typically
	// embed.FS sub-trees (so the binary is self-contained) or os.DirFS folders.
	Sources []fs.FS
	// Funcs are added to the built-in filters (and may replace them); the
	// framework passes url, static, csrf_field and similar here. They must be
	// given at New because html/template resolves functions at parse time.
	// The name "extends" is reserved.
	Funcs template.FuncMap
	// Pure names the Funcs whose result depends on their arguments only
	// (not on the request, the clock or any state), such as the framework's
	// url and static: a call of one with constant arguments, {{static
	// "polls/style.css"}}, runs once at New and its escaped output becomes
	// part of the page (see fold.go).
	Pure []string
	// Reload re-parses when a template file changed (debug mode). Off in production:
	// templates are parsed once, at New.
	Reload bool
	// Suffixes lists which files are templates (default [".html", ".txt"]).
	// Files and folders whose name starts with "." are never templates.
	Suffixes []string
	// Logger receives a line when Reload re-parses or finds a broken template.
	// Nil discards them.
	Logger *slog.Logger
}

// reloadInterval bounds how often Reload looks at the sources' modification
// times: walking a folder tree is cheap, but not per request.
const reloadInterval = time.Second

// maxPooledBuffer keeps an occasional huge page from pinning its buffer.
const maxPooledBuffer = 1 << 20

// bufPool holds the buffers Render executes into, so that a failing page
// writes nothing to the client and a succeeding one is written in one call.
var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// Set is a collection of pages, each assembled (extends resolved, includes
// added, escaped) once, so that Render only executes. It is safe for
// concurrent use, including while Reload replaces its pages.
type Set struct {
	sources  []fs.FS
	suffixes []string
	funcs    template.FuncMap
	pure     map[string]bool
	reload   bool
	logger   *slog.Logger

	cur        atomic.Pointer[snapshot]
	checkEvery time.Duration // reloadInterval; shorter in tests
	nextCheck  atomic.Int64  // Unix nanoseconds of the next allowed check
	reloadMu   sync.Mutex    // one rebuild at a time
}

// snapshot is one parse of the sources. It is immutable once published.
type snapshot struct {
	pages  map[string]*template.Template
	stamps []stamp
	err    error // a failed reload: reported by Render until the files are fixed
}

// New reads and parses every template of opts.Sources and assembles every
// page. A template that cannot be parsed, a bad or cyclic extends, a call of
// an undefined template and an escaping error all fail New; the error names
// the file and line of each problem (joined with errors.Join).
func New(opts Options) (*Set, error) {
	for i, src := range opts.Sources {
		if src == nil {
			return nil, fmt.Errorf("templates: source %d is nil", i)
		}
	}
	funcs, err := mergeFuncs(opts.Funcs)
	if err != nil {
		return nil, err
	}
	pure := make(map[string]bool, len(opts.Pure))
	for name := range Builtins() {
		if _, mine := opts.Funcs[name]; !mine {
			pure[name] = true // the built-in filters depend on their arguments only
		}
	}
	for _, name := range opts.Pure {
		if _, ok := funcs[name]; !ok || name == extendsFunc {
			return nil, fmt.Errorf("templates: Pure: %q is not one of the Funcs", name)
		}
		pure[name] = true
	}
	s := &Set{
		pure:       pure,
		sources:    slices.Clone(opts.Sources),
		suffixes:   slices.Clone(opts.Suffixes),
		funcs:      funcs,
		reload:     opts.Reload,
		logger:     opts.Logger,
		checkEvery: reloadInterval,
	}
	if len(s.suffixes) == 0 {
		s.suffixes = []string{".html", ".txt"}
	}
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	snap, err := s.build()
	if err != nil {
		return nil, err
	}
	s.cur.Store(snap)
	s.nextCheck.Store(time.Now().Add(s.checkEvery).UnixNano())
	return s, nil
}

// mergeFuncs returns the built-in filters, then user's, then extends.
func mergeFuncs(user template.FuncMap) (funcs template.FuncMap, err error) {
	if _, ok := user[extendsFunc]; ok {
		return nil, fmt.Errorf("templates: Funcs: the name %q is reserved", extendsFunc)
	}
	// html/template's escapers count as pure by their prefix (fold.go), and
	// the memo's functions replace actions by theirs (memo.go): an app's
	// function under either prefix would be folded or shadowed.
	for name := range user {
		if strings.HasPrefix(name, escaperPrefix) || strings.HasPrefix(name, memoPrefix) {
			return nil, fmt.Errorf("templates: Funcs: the name %q is reserved (names beginning %q or %q are the escapers' and the memo's)", name, escaperPrefix, memoPrefix)
		}
	}
	funcs = Builtins()
	maps.Copy(funcs, user)
	funcs[extendsFunc] = func(string) string { return "" }
	// template.Funcs panics on a value that is not a usable function; say
	// which at New instead.
	defer func() {
		if r := recover(); r != nil {
			funcs, err = nil, fmt.Errorf("templates: Funcs: %v", r)
		}
	}()
	template.New("").Funcs(funcs)
	return funcs, nil
}

// Render executes page name (a slash path such as "polls/index.html") with
// data and writes the result to w. The page is rendered into a buffer first,
// so that an execution error writes nothing to w.
func (s *Set) Render(w io.Writer, name string, data any) error {
	snap := s.snapshot()
	if snap.err != nil {
		return snap.err
	}
	page := snap.pages[name]
	if page == nil {
		return fmt.Errorf("templates: render %s: %w", name, ErrNotFound)
	}
	buf := bufPool.Get().(*bytes.Buffer)
	defer func() {
		if buf.Cap() <= maxPooledBuffer {
			buf.Reset()
			bufPool.Put(buf)
		}
	}()
	if err := page.Execute(buf, data); err != nil {
		return fmt.Errorf("templates: render %s: %w", name, err)
	}
	if _, err := w.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("templates: render %s: write: %w", name, err)
	}
	return nil
}

// Has reports whether a page called name exists.
func (s *Set) Has(name string) bool {
	_, ok := s.snapshot().pages[name]
	return ok
}

// Names returns the names of all pages, sorted.
func (s *Set) Names() []string {
	return slices.Sorted(maps.Keys(s.snapshot().pages))
}

// snapshot returns the current pages, first re-parsing them if Reload is on,
// the check interval has passed and a template file changed. Only the caller
// that wins the check waits for it; concurrent callers use the pages they have.
func (s *Set) snapshot() *snapshot {
	snap := s.cur.Load()
	if !s.reload {
		return snap
	}
	now := time.Now().UnixNano()
	next := s.nextCheck.Load()
	if now < next || !s.nextCheck.CompareAndSwap(next, now+int64(s.checkEvery)) {
		return snap
	}
	s.refresh()
	return s.cur.Load()
}

// refresh rebuilds the pages if the template files changed since the
// current snapshot was built.
func (s *Set) refresh() {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	old := s.cur.Load()
	_, stamps, err := scan(s.sources, s.suffixes)
	if err == nil && slices.Equal(stamps, old.stamps) {
		return
	}
	snap, err := s.build()
	if err != nil {
		s.logger.Error("templates: reload failed", "err", err)
		// Keep the old pages for Has, remember the new stamps so that the
		// broken files are not re-parsed every second, and report the error.
		if stamps == nil {
			stamps = old.stamps
		}
		s.cur.Store(&snapshot{pages: old.pages, stamps: stamps, err: err})
		return
	}
	s.logger.Info("templates: reloaded", "pages", len(snap.pages))
	s.cur.Store(snap)
}

// build reads, parses and assembles every template of the sources.
func (s *Set) build() (*snapshot, error) {
	entries, stamps, err := scan(s.sources, s.suffixes)
	if err != nil {
		return nil, err
	}
	var errs []error
	files := make(map[string]*file, len(entries))
	for _, e := range entries {
		text, err := readTemplate(s.sources[e.source], e.name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		f, err := parseFile(e.name, text, s.funcs)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		files[e.name] = f
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	pages := make(map[string]*template.Template, len(files))
	seen := make(map[string]bool) // a broken base breaks every child: report it once
	for _, name := range slices.Sorted(maps.Keys(files)) {
		page, err := assemble(name, files, s.funcs)
		if err != nil {
			if msg := err.Error(); !seen[msg] {
				seen[msg] = true
				errs = append(errs, err)
			}
			continue
		}
		copyPage := func() (*template.Template, error) { return assemble(name, files, s.funcs) }
		if err := memoize(page, copyPage, s.pure, s.funcs); err != nil {
			errs = append(errs, err)
			continue
		}
		if err := memoizeRows(page, copyPage, s.pure); err != nil {
			errs = append(errs, err)
			continue
		}
		fold(page, s.pure)
		pages[name] = page
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return &snapshot{pages: pages, stamps: stamps}, nil
}
