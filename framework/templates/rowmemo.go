package templates

import (
	"fmt"
	"html/template"
	"maps"
	"reflect"
	"slices"
	"strings"
	"sync"
	"text/template/parse"
)

// Row memoizing: memoize turns an action over one value into one call, but
// a {{range}} row of a page (a question's link, text and dates) is still
// several calls and field look-ups, each through reflection. When the body
// of a range depends only on fields of its element (.ID, .Text, .PubDate:
// no variables, no $, no nested range or with; a template it includes with
// dot, {{template "polls/_question.html" .}}, counts as part of the body)
// and on pure functions and escapers, its output is a function of those
// fields.
// memoizeRows rewrites such a range
//
//	{{range P}}BODY{{else}}E{{end}}
//
// as
//
//	{{range P}}{{with _stack_memo_row_N .}}{{.}}{{else}}BODY{{end}}{{else}}E{{end}}
//
// where the function returns the row's output, kept per the values of the
// fields the body uses, or "" to let BODY run as before: for an element that
// is not a struct or a map (or a non-nil pointer to one), a field that is a method
// of the type or not plain data (memoKey), or an evaluation that fails (the
// render then fails the same way). A row whose output is empty also runs
// BODY, which writes the same nothing.

const (
	rowMemoPrefix = memoPrefix + "row_"
	maxRowFields  = 8    // fields of the element a body may use
	maxRowOutput  = 4096 // longest row output kept
)

// rowTarget is a range to memoize: the ordinal-th range of template name.
type rowTarget struct {
	name    string
	ordinal int
	node    *parse.RangeNode
	fields  []string // the element's fields the body uses, sorted
}

// memoizeRows rewrites the ranges of page whose body depends only on their
// element's fields. copyPage assembles another copy of the page (escaped,
// neither memoized nor folded), whose bodies compute a row on a miss.
func memoizeRows(page *template.Template, copyPage func() (*template.Template, error), pure map[string]bool) error {
	if len(pure) == 0 {
		return nil
	}
	var targets []rowTarget
	for _, name := range templateNames(page) {
		for k, r := range nodesOf[*parse.RangeNode](page.Lookup(name)) {
			if fields, ok := rowFields(page, r, pure); ok {
				targets = append(targets, rowTarget{name: name, ordinal: k, node: r, fields: fields})
			}
		}
	}
	if len(targets) == 0 {
		return nil
	}
	// As memoize's, the first copy is made at the first miss.
	build := func() (*evaluator, error) { return newRowEvaluator(copyPage, targets) }
	pool := &evaluators{free: make(chan *evaluator, maxEvaluators), build: build}
	funcs := template.FuncMap{}
	for i, t := range targets {
		m := &rowMemo{index: i, fields: t.fields, evals: pool, plans: map[reflect.Type]*rowPlan{}}
		fn := fmt.Sprintf("%s%d", rowMemoPrefix, i)
		funcs[fn] = m.call
		pos := t.node.List.Pos
		dot := func() parse.Node { return &parse.DotNode{NodeType: parse.NodeDot, Pos: pos} }
		pipe := &parse.PipeNode{NodeType: parse.NodePipe, Pos: pos, Line: t.node.Line, Cmds: []*parse.CommandNode{{
			NodeType: parse.NodeCommand, Pos: pos, Args: []parse.Node{parse.NewIdentifier(fn).SetPos(pos), dot()}}}}
		print := &parse.ActionNode{NodeType: parse.NodeAction, Pos: pos, Line: t.node.Line, Pipe: &parse.PipeNode{
			NodeType: parse.NodePipe, Pos: pos, Line: t.node.Line, Cmds: []*parse.CommandNode{{NodeType: parse.NodeCommand, Pos: pos, Args: []parse.Node{dot()}}}}}
		with := &parse.WithNode{BranchNode: parse.BranchNode{NodeType: parse.NodeWith, Pos: pos, Line: t.node.Line, Pipe: pipe,
			List:     &parse.ListNode{NodeType: parse.NodeList, Pos: pos, Nodes: []parse.Node{print}},
			ElseList: t.node.List}}
		t.node.List = &parse.ListNode{NodeType: parse.NodeList, Pos: pos, Nodes: []parse.Node{with}}
	}
	page.Funcs(funcs)
	return nil
}

// rowFields reports whether the body of r depends only on fields of its
// element, and which.
func rowFields(page *template.Template, r *parse.RangeNode, pure map[string]bool) ([]string, bool) {
	if len(r.Pipe.Decl) > 0 || r.List == nil {
		return nil, false
	}
	c := &rowCheck{page: page, pure: pure, fields: map[string]bool{}, calls: map[string]bool{}}
	fields := c.fields
	if !c.list(r.List) || len(fields) == 0 || len(fields) > maxRowFields {
		return nil, false
	}
	return slices.Sorted(maps.Keys(fields)), true
}

// rowCheck walks a range's body, and the templates it includes with dot
// ({{template "polls/_question.html" .}}), collecting the fields it uses.
type rowCheck struct {
	page   *template.Template
	pure   map[string]bool
	fields map[string]bool
	calls  map[string]bool // templates entered, against cycles
}

func (c *rowCheck) list(l *parse.ListNode) bool {
	if l == nil {
		return true
	}
	for _, n := range l.Nodes {
		switch n := n.(type) {
		case *parse.TextNode, *parse.CommentNode:
		case *parse.ActionNode:
			if !rowPipe(n.Pipe, c.pure, c.fields) {
				return false
			}
		case *parse.IfNode:
			if !rowPipe(n.Pipe, c.pure, c.fields) || !c.list(n.List) || !c.list(n.ElseList) {
				return false
			}
		case *parse.TemplateNode:
			// Only with dot itself: the called template sees the element.
			// A name html/template derived for another context is not in
			// the page's set, and is left alone.
			if n.Pipe == nil || len(n.Pipe.Decl) > 0 || len(n.Pipe.Cmds) != 1 || len(n.Pipe.Cmds[0].Args) != 1 || c.calls[n.Name] {
				return false
			}
			if _, dot := n.Pipe.Cmds[0].Args[0].(*parse.DotNode); !dot {
				return false
			}
			t := c.page.Lookup(n.Name)
			if t == nil || t.Tree == nil || t.Tree.Root == nil {
				return false
			}
			c.calls[n.Name] = true
			ok := c.list(t.Tree.Root)
			delete(c.calls, n.Name)
			if !ok {
				return false
			}
		default: // with, range, break, continue
			return false
		}
	}
	return true
}

// rowPipe reports whether pipe is constants, fields of dot (one level) and
// calls of pure functions and escapers.
func rowPipe(pipe *parse.PipeNode, pure map[string]bool, fields map[string]bool) bool {
	if pipe == nil || len(pipe.Decl) > 0 || pipe.IsAssign || len(pipe.Cmds) == 0 {
		return false
	}
	for i, cmd := range pipe.Cmds {
		if len(cmd.Args) == 0 {
			return false
		}
		start := 0
		if id, ok := cmd.Args[0].(*parse.IdentifierNode); ok {
			if !pure[id.Ident] && !strings.HasPrefix(id.Ident, escaperPrefix) && !strings.HasPrefix(id.Ident, memoPrefix) {
				return false
			}
			start = 1
		} else if i > 0 || len(cmd.Args) > 1 {
			return false // a value mid-pipe, or a method called with arguments
		}
		for _, arg := range cmd.Args[start:] {
			switch arg := arg.(type) {
			case *parse.FieldNode:
				if len(arg.Ident) != 1 {
					return false
				}
				fields[arg.Ident[0]] = true
			default:
				if !isConstant(arg) {
					return false
				}
			}
		}
	}
	return true
}

// newRowEvaluator builds a copy of the page whose roots are the bodies of
// the targets' ranges, as escaped and before any memoizing.
func newRowEvaluator(copyPage func() (*template.Template, error), targets []rowTarget) (*evaluator, error) {
	return newCopyEvaluator(copyPage, len(targets), func(c *template.Template, i int) (*parse.ListNode, error) {
		t := targets[i]
		rs := nodesOf[*parse.RangeNode](c.Lookup(t.name))
		if t.ordinal >= len(rs) {
			return nil, fmt.Errorf("templates: memoize rows of %s: the copy differs", t.name)
		}
		r := rs[t.ordinal]
		if r.Pos != t.node.Pos || r.Pipe.String() != t.node.Pipe.String() {
			return nil, fmt.Errorf("templates: memoize rows of %s: the copy differs at %s", t.name, r.Pipe)
		}
		return r.List, nil
	})
}

// rowMemo is the function that replaces the body of one range.
type rowMemo struct {
	index  int
	fields []string
	evals  *evaluators

	mu    sync.RWMutex
	plans map[reflect.Type]*rowPlan
	outs  map[rowKey]string
}

// rowPlan is how to read the fields of one element type: a struct's by
// index, a map's by key. ok false means the type's rows are not memoized.
type rowPlan struct {
	ok    bool
	index [][]int         // a struct's fields
	keys  []reflect.Value // a map's keys, as text/template looks them up
}

// rowMissing stands in the key for a map entry that is not there (which
// text/template prints as "<no value>"; a nil entry is not kept at all).
type rowMissing struct{}

// rowKey is an element's type and the values of the fields its row uses.
type rowKey struct {
	typ  reflect.Type
	vals [maxRowFields]any
}

func (m *rowMemo) call(v any) string {
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Pointer {
		if rv.IsNil() {
			return ""
		}
		rv = rv.Elem()
	}
	if k := rv.Kind(); k != reflect.Struct && k != reflect.Map {
		return ""
	}
	t := rv.Type()
	m.mu.RLock()
	plan := m.plans[t]
	m.mu.RUnlock()
	if plan == nil {
		plan = m.plan(t)
	}
	if !plan.ok {
		return ""
	}
	key := rowKey{typ: reflect.TypeOf(v)}
	for i := range m.fields {
		var f reflect.Value
		if plan.keys != nil { // a map: the field is the entry of that key
			if f = rv.MapIndex(plan.keys[i]); !f.IsValid() {
				key.vals[i] = rowMissing{}
				continue
			}
		} else {
			var err error
			if f, err = rv.FieldByIndexErr(plan.index[i]); err != nil { // through a nil embedded pointer
				return ""
			}
		}
		k, keep := memoKey(f.Interface())
		if !keep {
			return ""
		}
		key.vals[i] = k
	}
	m.mu.RLock()
	s, ok := m.outs[key]
	m.mu.RUnlock()
	if ok {
		return s
	}
	e, err := m.evals.get()
	if err != nil {
		return ""
	}
	s, err = e.eval(m.index, v)
	m.evals.put(e)
	if err != nil {
		return "" // BODY runs and fails as it would have
	}
	if len(s) <= maxRowOutput {
		m.mu.Lock()
		if m.outs == nil || len(m.outs) >= maxMemo {
			m.outs = make(map[rowKey]string)
		}
		m.outs[key] = s
		m.mu.Unlock()
	}
	return s
}

// plan finds the fields of t the row uses. A name that is a method of T or
// *T (which text/template would call), an unexported or missing field, or
// a map whose key a string cannot be, leaves the type's rows to BODY.
func (m *rowMemo) plan(t reflect.Type) *rowPlan {
	p := &rowPlan{ok: true}
	pt := reflect.PointerTo(t)
	for _, name := range m.fields {
		if _, isMethod := pt.MethodByName(name); isMethod {
			p.ok = false
			break
		}
		if t.Kind() == reflect.Map {
			k := reflect.ValueOf(name)
			if !k.Type().AssignableTo(t.Key()) {
				p.ok = false
				break
			}
			p.keys = append(p.keys, k)
			continue
		}
		f, found := t.FieldByName(name)
		if !found || !f.IsExported() {
			p.ok = false
			break
		}
		p.index = append(p.index, f.Index)
	}
	if !p.ok {
		p.index, p.keys = nil, nil
	}
	m.mu.Lock()
	if len(m.plans) >= maxMemo {
		m.plans = map[reflect.Type]*rowPlan{}
	}
	m.plans[t] = p
	m.mu.Unlock()
	return p
}
