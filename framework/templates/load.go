package templates

import (
	"bytes"
	"fmt"
	"io/fs"
	"path"
	"strings"
	ttemplate "text/template"
	"text/template/parse"
)

// extendsFunc is the name of the pseudo-function that declares a parent.
// It is registered as a real function only so that parsing accepts it; the
// action is never executed (a child's own body is not rendered, as in Django).
const extendsFunc = "extends"

// entry is one template file chosen from the sources.
type entry struct {
	source int    // index into the sources
	name   string // slash path relative to that source
}

// stamp identifies one version of a file on disk, for Reload.
type stamp struct {
	source int
	name   string
	mod    int64 // modification time, Unix nanoseconds
	size   int64
}

// scan lists the template files of every source. entries holds, for each
// name, the file from the earliest source that has it (Django's loader order);
// stamps holds every template file of every source, hidden ones included, so
// that removing a file that hid another one also counts as a change.
func scan(sources []fs.FS, suffixes []string) (entries []entry, stamps []stamp, err error) {
	seen := make(map[string]bool)
	for i, src := range sources {
		err := fs.WalkDir(src, ".", func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if p != "." && strings.HasPrefix(d.Name(), ".") {
				// Editor droppings (.#index.html, .index.html.swp) and VCS folders.
				if d.IsDir() {
					return fs.SkipDir
				}
				return nil
			}
			if d.IsDir() || !hasSuffix(p, suffixes) {
				return nil
			}
			info, err := d.Info()
			if err != nil {
				return err
			}
			stamps = append(stamps, stamp{source: i, name: p, mod: info.ModTime().UnixNano(), size: info.Size()})
			if !seen[p] {
				seen[p] = true
				entries = append(entries, entry{source: i, name: p})
			}
			return nil
		})
		if err != nil {
			return nil, nil, fmt.Errorf("templates: scan source %d: %w", i, err)
		}
	}
	return entries, stamps, nil
}

// readTemplate reads template file name of src. A name that is not a
// regular file is refused before it is opened: opening a named pipe
// (mkfifo page.html) waits for a writer, and New, or stack check, hung.
func readTemplate(src fs.FS, name string) ([]byte, error) {
	fi, err := fs.Stat(src, name)
	if err != nil {
		return nil, fmt.Errorf("templates: read %s: %w", name, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("templates: read %s: not a regular file (%s)", name, fi.Mode().Type())
	}
	text, err := fs.ReadFile(src, name)
	if err != nil {
		return nil, fmt.Errorf("templates: read %s: %w", name, err)
	}
	return text, nil
}

func hasSuffix(name string, suffixes []string) bool {
	ext := path.Base(name)
	for _, s := range suffixes {
		if strings.HasSuffix(ext, s) {
			return true
		}
	}
	return false
}

// file is one template file, parsed once. Its trees are never executed
// themselves: every page gets copies (see assemble), because html/template
// rewrites a tree in place when it escapes it.
type file struct {
	name    string
	trees   map[string]*parse.Tree // its body, under name, and each {{define}}/{{block}}
	parent  string                 // the {{extends}} target; "" when there is none
	extends *parse.ActionNode      // the {{extends}} action, for error locations
}

// parseFile parses text as template file name. funcs supplies the names of
// the functions the template may call; text/template rejects any other.
func parseFile(name string, text []byte, funcs ttemplate.FuncMap) (*file, error) {
	t, err := ttemplate.New(name).Funcs(funcs).Parse(string(text))
	if err != nil {
		return nil, parseError(name, err)
	}
	f := &file{name: name, trees: make(map[string]*parse.Tree)}
	for _, x := range t.Templates() {
		if x.Tree != nil && x.Tree.Root != nil {
			f.trees[x.Name()] = x.Tree
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

// findExtends records the parent named by a leading {{extends "name"}} and
// rejects extends anywhere else: like Django, extends must come first, and a
// parent chosen at run time would defeat assembling each page once.
func (f *file) findExtends() error {
	body := f.trees[f.name]
	for _, n := range body.Root.Nodes {
		if isBlank(n) {
			continue
		}
		if a, ok := n.(*parse.ActionNode); ok && callsExtends(a.Pipe) {
			parent, ok := extendsTarget(a.Pipe)
			if !ok {
				return nodeError(body, a, `extends takes one string literal, as in {{extends "base.html"}}`)
			}
			f.parent, f.extends = parent, a
		}
		break
	}
	for _, t := range sortedTrees(f.trees) {
		var allowed, bad parse.Node
		if f.extends != nil {
			allowed = f.extends.Pipe.Cmds[0].Args[0]
		}
		walk(t.Root, func(n parse.Node) {
			if id, ok := n.(*parse.IdentifierNode); ok && id.Ident == extendsFunc && n != allowed && bad == nil {
				bad = n
			}
		})
		if bad != nil {
			return nodeError(t, bad, "extends must be the first action of the file and stand alone")
		}
	}
	return nil
}

// isBlank reports whether n is text that is only white space, or a comment.
func isBlank(n parse.Node) bool {
	switch n := n.(type) {
	case *parse.TextNode:
		return len(bytes.TrimSpace(n.Text)) == 0
	case *parse.CommentNode:
		return true
	}
	return false
}

// callsExtends reports whether a pipeline's first command is extends.
func callsExtends(p *parse.PipeNode) bool {
	if p == nil || len(p.Cmds) == 0 || len(p.Cmds[0].Args) == 0 {
		return false
	}
	id, ok := p.Cmds[0].Args[0].(*parse.IdentifierNode)
	return ok && id.Ident == extendsFunc
}

// extendsTarget returns the parent named by a well-formed {{extends "name"}}.
func extendsTarget(p *parse.PipeNode) (string, bool) {
	if len(p.Decl) != 0 || len(p.Cmds) != 1 || len(p.Cmds[0].Args) != 2 {
		return "", false
	}
	s, ok := p.Cmds[0].Args[1].(*parse.StringNode)
	if !ok || s.Text == "" {
		return "", false
	}
	return s.Text, true
}
