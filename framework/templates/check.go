package templates

import (
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"maps"
	"slices"
	"strings"
	"text/template/parse"
)

// CheckSyntax is CheckSources for sources given as one list, its errors
// joined.
func CheckSyntax(sources ...fs.FS) error {
	var errs []error
	CheckSources(sources, func(_ int, err error) { errs = append(errs, err) })
	return errors.Join(errs...)
}

// CheckSources reads the template files of sources as New would, without
// the functions the app will register, and reports to bad, with the index
// of the source the file came from, what New would refuse: a folder it
// cannot walk, a file it cannot read, a file that does not parse (an
// unclosed action, a stray {{end}}, an extends that is not the first thing
// in its file), and a page whose context html/template cannot decide (an
// {{if}} whose branches end in different contexts, a page ending inside an
// attribute). It lets a configuration check catch a broken template before
// the app is started. As in New, a name in an earlier source hides the
// same name in later ones: a hidden file is never read, so it is not
// checked. What only the whole app knows is left to New: its functions,
// and the templates its apps embed, so a page that extends or includes a
// name no source here has is not assembled.
func CheckSources(sources []fs.FS, bad func(source int, err error)) {
	suffixes := checkSuffixes
	var usable []int // the sources that can be walked, as New walks them
	for i, src := range sources {
		if _, _, err := scan([]fs.FS{src}, suffixes); err != nil {
			bad(i, fmt.Errorf("templates: scan: %w", errors.Unwrap(err)))
			continue
		}
		usable = append(usable, i)
	}
	var srcs []fs.FS
	for _, i := range usable {
		srcs = append(srcs, sources[i])
	}
	entries, _, err := scan(srcs, suffixes)
	if err != nil { // walked above: a folder that changed meanwhile
		bad(usable[0], err)
		return
	}
	files := make(map[string]*file, len(entries))
	from := make(map[string]int, len(entries))
	for _, e := range entries {
		src := usable[e.source]
		text, err := readTemplate(sources[src], e.name)
		if err != nil {
			bad(src, err)
			continue
		}
		f, err := checkFile(e.name, string(text))
		if err != nil {
			bad(src, err)
			continue
		}
		files[e.name], from[e.name] = f, src
	}
	funcs := stubFuncs(files)
	seen := make(map[string]bool) // a broken base breaks every child: report it once
	for _, name := range slices.Sorted(maps.Keys(files)) {
		if !closed(name, files) {
			continue
		}
		if _, err := assemble(name, files, funcs); err != nil && !seen[err.Error()] {
			seen[err.Error()] = true
			bad(from[name], err)
		}
	}
}

// checkSuffixes are the template files New reads (the framework gives it
// no Suffixes).
var checkSuffixes = []string{".html", ".txt"}

// checkFile parses one file as parseFile does, but with SkipFuncCheck, so
// that a call to a function only the app defines is not an error here.
func checkFile(name, text string) (*file, error) {
	t := parse.New(name)
	t.Mode = parse.SkipFuncCheck
	trees := make(map[string]*parse.Tree)
	if _, err := t.Parse(text, "", "", trees); err != nil {
		return nil, parseError(name, err)
	}
	f := &file{name: name, trees: make(map[string]*parse.Tree)}
	for n, tr := range trees {
		if tr != nil && tr.Root != nil {
			f.trees[n] = tr
		}
	}
	if f.trees[name] == nil {
		// An empty file still is a page that renders nothing.
		f.trees[name] = &parse.Tree{Name: name, ParseName: name, Root: &parse.ListNode{NodeType: parse.NodeList}}
	}
	if err := f.findExtends(); err != nil {
		return nil, err
	}
	return f, nil
}

// closed reports whether page name can be assembled from files alone: its
// parents are all there, and every template its chain calls is a block of
// the chain or a file there (transitively). Otherwise the app's own
// templates may supply what is missing, and only New can tell.
func closed(name string, files map[string]*file) bool {
	defined := make(map[string]bool)
	var queue []*parse.Tree
	seen := make(map[string]bool)
	for f := files[name]; f != nil; f = files[f.parent] {
		if seen[f.name] {
			return true // a cycle: assemble reports it
		}
		seen[f.name] = true
		for n, t := range f.trees {
			defined[n] = true
			queue = append(queue, t)
		}
		if f.parent == "" {
			break
		}
		if files[f.parent] == nil {
			return false
		}
	}
	for len(queue) > 0 {
		t := queue[0]
		queue = queue[1:]
		for _, call := range templateCalls(t) {
			n := call.Name
			if block, ok := strings.CutSuffix(n, superSuffix); ok && defined[block] {
				continue
			}
			if defined[n] {
				continue
			}
			inc := files[n]
			if inc == nil {
				// A file of the app's may be it; a name that is no
				// template file's is not defined anywhere.
				if hasSuffix(n, checkSuffixes) {
					return false
				}
				continue
			}
			for m, t := range inc.trees {
				if !defined[m] {
					defined[m] = true
					queue = append(queue, t)
				}
			}
		}
	}
	return true
}

// stubFuncs is the built-in filters and a stand-in for every other
// function the files call: escaping does not run them, and which
// functions exist is the app's to say.
func stubFuncs(files map[string]*file) template.FuncMap {
	funcs, _ := mergeFuncs(nil)
	stub := func(...any) (string, error) { return "", errTrial }
	for _, f := range files {
		for _, t := range f.trees {
			walk(t.Root, func(n parse.Node) {
				if id, ok := n.(*parse.IdentifierNode); ok && funcs[id.Ident] == nil && !textBuiltins[id.Ident] {
					funcs[id.Ident] = stub
				}
			})
		}
	}
	return funcs
}

// textBuiltins are text/template's own functions, which need no stand-in.
var textBuiltins = map[string]bool{
	"and": true, "call": true, "html": true, "index": true, "slice": true, "js": true, "len": true, "not": true,
	"or": true, "print": true, "printf": true, "println": true, "urlquery": true,
	"eq": true, "ge": true, "gt": true, "le": true, "lt": true, "ne": true,
}
