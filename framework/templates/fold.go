package templates

import (
	"bytes"
	"html/template"
	"strings"
	"text/template/parse"
)

// Folding: html/template runs every function of a page through reflection,
// and each action it escapes gets one to three escaper functions more, so
// {{static "polls/style.css"}} in an attribute costs four reflective calls
// on every render, for a result that never changes. Once a page is
// escaped, fold runs each action whose value cannot change (a call of a
// pure function with constant arguments, piped only through pure functions
// and html/template's own escapers) once, and puts its output in the page
// as text. html/template itself computes the output, with the page's
// functions, so it is byte for byte what a render would write. An action
// whose evaluation fails is left alone: the render fails as before.
// Only the templates html/template lists are folded: the copies it makes of
// a template called from another context (a {{block}} inside <title>, an
// attribute or a script) are its own.

// escaperPrefix begins the names of the escaping functions html/template
// adds to actions; they are pure.
const escaperPrefix = "_html_template_"

// fold replaces the constant actions of every template of page (already
// escaped) with their output. pure names the functions whose result
// depends on their arguments only. page must not be in use: fold runs
// before the page is published.
func fold(page *template.Template, pure map[string]bool) {
	if len(pure) == 0 || page.Tree == nil {
		return
	}
	f := &folder{page: page, pure: pure}
	for _, t := range page.Templates() {
		if t.Tree != nil && t.Tree.Root != nil {
			f.list(t.Tree.Root)
		}
	}
}

type folder struct {
	page *template.Template
	pure map[string]bool
	buf  bytes.Buffer
}

// list folds the constant actions of l and of the lists below it, then
// joins adjacent text.
func (f *folder) list(l *parse.ListNode) {
	if l == nil {
		return
	}
	changed := false
	for i, n := range l.Nodes {
		switch n := n.(type) {
		case *parse.ActionNode:
			if text, ok := f.eval(n); ok {
				l.Nodes[i] = &parse.TextNode{NodeType: parse.NodeText, Pos: n.Pos, Text: text}
				changed = true
			}
		case *parse.IfNode:
			f.list(n.List)
			f.list(n.ElseList)
		case *parse.RangeNode:
			f.list(n.List)
			f.list(n.ElseList)
		case *parse.WithNode:
			f.list(n.List)
			f.list(n.ElseList)
		}
	}
	if changed {
		l.Nodes = joinText(l.Nodes)
	}
}

// eval returns the output of action a when it is constant.
func (f *folder) eval(a *parse.ActionNode) ([]byte, bool) {
	if !f.constant(a.Pipe) {
		return nil, false
	}
	// The page's own tree runs the action alone, so that the functions and
	// escapers are exactly the ones a render calls.
	tree := f.page.Tree
	root := tree.Root
	tree.Root = &parse.ListNode{NodeType: parse.NodeList, Pos: a.Pos, Nodes: []parse.Node{a}}
	f.buf.Reset()
	err := f.page.Execute(&f.buf, nil)
	tree.Root = root
	if err != nil {
		return nil, false
	}
	return bytes.Clone(f.buf.Bytes()), true
}

// constant reports whether pipe's value is fixed: no variables, a
// constant or a pure call with constant arguments first, then only pure
// calls with constant arguments.
func (f *folder) constant(pipe *parse.PipeNode) bool {
	if pipe == nil || len(pipe.Decl) > 0 || pipe.IsAssign || len(pipe.Cmds) == 0 {
		return false
	}
	for i, cmd := range pipe.Cmds {
		if len(cmd.Args) == 0 {
			return false
		}
		first := cmd.Args[0]
		args := cmd.Args[1:]
		if id, ok := first.(*parse.IdentifierNode); ok {
			if !f.pure[id.Ident] && !strings.HasPrefix(id.Ident, escaperPrefix) {
				return false
			}
		} else if i > 0 || len(cmd.Args) > 1 || !isConstant(first) {
			return false
		}
		for _, arg := range args {
			if !isConstant(arg) {
				return false
			}
		}
	}
	return true
}

func isConstant(n parse.Node) bool {
	switch n.(type) {
	case *parse.StringNode, *parse.NumberNode, *parse.BoolNode:
		return true
	}
	return false
}

// joinText merges runs of text nodes into one.
func joinText(nodes []parse.Node) []parse.Node {
	out := nodes[:0]
	for _, n := range nodes {
		t, ok := n.(*parse.TextNode)
		if ok && len(out) > 0 {
			if prev, ok := out[len(out)-1].(*parse.TextNode); ok {
				out[len(out)-1] = &parse.TextNode{NodeType: parse.NodeText, Pos: prev.Pos,
					Text: append(bytes.Clone(prev.Text), t.Text...)}
				continue
			}
		}
		out = append(out, n)
	}
	return out
}
