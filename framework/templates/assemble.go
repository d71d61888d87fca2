package templates

import (
	"errors"
	"fmt"
	"html/template"
	"io"
	"maps"
	"slices"
	"strings"
	"text/template/parse"
)

// superSuffix names the ancestors' version of a block: inside a template that
// overrides block "content", {{template "content.super" .}} renders the
// definition the parent chain gave it (Django's {{ block.super }}).
const superSuffix = ".super"

// assemble builds the executable template for page name: the page's chain of
// parents, root first, then each level's {{define}}s overriding the blocks of
// the levels above, then every file reached by {{template "file.html"}}.
// Every tree is a copy, so pages never share what html/template escapes in place.
func assemble(name string, files map[string]*file, funcs template.FuncMap) (*template.Template, error) {
	chain, err := parentChain(name, files)
	if err != nil {
		return nil, err
	}
	set := make(map[string]*parse.Tree)
	for _, f := range chain {
		if err := applyLevel(set, f); err != nil {
			return nil, err
		}
	}
	if err := addIncludes(set, files); err != nil {
		return nil, err
	}

	root := chain[0].name
	t := template.New(root).Funcs(funcs)
	for _, n := range slices.Sorted(maps.Keys(set)) {
		if _, err := t.AddParseTree(n, set[n]); err != nil {
			return nil, &Error{Name: name, Description: err.Error(), Err: err}
		}
	}
	page := t.Lookup(root)
	if err := escapeNow(page, funcs); err != nil {
		return nil, escapeError(name, err)
	}
	return page, nil
}

// parentChain returns the files from the root ancestor down to page name.
func parentChain(name string, files map[string]*file) ([]*file, error) {
	var chain []*file
	seen := make(map[string]bool)
	for f := files[name]; ; {
		chain = append(chain, f)
		seen[f.name] = true
		if f.parent == "" {
			break
		}
		body := f.trees[f.name]
		p := files[f.parent]
		if p == nil {
			return nil, nodeError(body, f.extends, "extends %q: no such template in any source", f.parent)
		}
		if seen[p.name] {
			return nil, cycleError(chain[slices.Index(chain, p):])
		}
		f = p
	}
	slices.Reverse(chain)
	return chain, nil
}

// cycleError reports the extends cycle formed by files, each extending the
// next and the last the first. Every page in or above the cycle finds it, so
// it is reported the same way each time, from its smallest name, to be
// reported once.
func cycleError(files []*file) error {
	start := 0
	for i, f := range files {
		if f.name < files[start].name {
			start = i
		}
	}
	files = append(files[start:len(files):len(files)], files[:start]...)
	names := make([]string, 0, len(files)+1)
	for _, f := range files {
		names = append(names, f.name)
	}
	names = append(names, files[0].name)
	first := files[0]
	return nodeError(first.trees[first.name], first.extends, "extends cycle: %s", strings.Join(names, " → "))
}

// applyLevel adds file f's templates on top of those its ancestors put in
// set. A block f redefines replaces the ancestors' one, which stays reachable
// under a private name that f's {{template "X.super"}} calls are pointed to.
func applyLevel(set map[string]*parse.Tree, f *file) error {
	names := slices.Sorted(maps.Keys(f.trees))
	moved := make(map[string]string) // block → private name of the ancestors' version
	for _, n := range names {
		if old, ok := set[n]; ok && n != f.name {
			private := fmt.Sprintf("%s%s[%s]", n, superSuffix, old.ParseName)
			set[private] = old
			moved[n] = private
		}
	}
	for _, n := range names {
		set[n] = f.trees[n].Copy()
	}
	for _, n := range names {
		t := set[n]
		for _, call := range templateCalls(t) {
			block, ok := strings.CutSuffix(call.Name, superSuffix)
			if !ok {
				continue
			}
			switch private, redefined := moved[block]; {
			case redefined:
				call.Name = private
			case f.trees[block] == nil && set[block] != nil:
				call.Name = block // f does not redefine it: the ancestors' version is live
			default:
				return nodeError(t, call, "template %q: no parent template defines block %q", call.Name, block)
			}
		}
	}
	return nil
}

// addIncludes adds, transitively, every template file that the templates in
// set call by file name and that set does not define itself. A name that is
// neither a block nor a file is reported now rather than at the first Render.
func addIncludes(set map[string]*parse.Tree, files map[string]*file) error {
	queue := slices.Sorted(maps.Keys(set))
	for len(queue) > 0 {
		t := set[queue[0]]
		queue = queue[1:]
		for _, call := range templateCalls(t) {
			if _, ok := set[call.Name]; ok {
				continue
			}
			inc := files[call.Name]
			if inc == nil {
				return nodeError(t, call, "template %q not defined", call.Name)
			}
			if inc.parent != "" {
				return nodeError(t, call, "template %q extends %q and so cannot be included", call.Name, inc.parent)
			}
			for _, n := range slices.Sorted(maps.Keys(inc.trees)) {
				if _, ok := set[n]; !ok { // the page's own blocks win
					set[n] = inc.trees[n].Copy()
					queue = append(queue, n)
				}
			}
		}
	}
	return nil
}

// errTrial stops the trial execution in escapeNow at the first function call.
var errTrial = errors.New("trial execution")

// escapeNow makes html/template escape page now instead of at its first
// Execute, so that a template whose context is ambiguous (an {{if}} that
// ends in a different context than its {{else}}, a page that ends inside a
// <script> string) fails New, not a request. html/template has no public "escape"
// call: escaping is the first step of Execute, so Execute runs once with nil
// data and every function replaced by a stub that stops it, so that no user
// function runs with bogus arguments. Only an escaping error is returned; the
// execution errors that nil data and the stubs cause are expected.
func escapeNow(page *template.Template, funcs template.FuncMap) error {
	stub := func(...any) (string, error) { return "", errTrial }
	stubs := make(template.FuncMap, len(funcs))
	for n := range funcs {
		stubs[n] = stub
	}
	page.Funcs(stubs)
	err := page.Execute(io.Discard, nil)
	page.Funcs(funcs)
	var he *htmlError
	if errors.As(err, &he) {
		return err
	}
	return nil
}

// sortedTrees returns the trees of m in name order, for deterministic errors.
func sortedTrees(m map[string]*parse.Tree) []*parse.Tree {
	out := make([]*parse.Tree, 0, len(m))
	for _, n := range slices.Sorted(maps.Keys(m)) {
		out = append(out, m[n])
	}
	return out
}
