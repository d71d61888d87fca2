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
	"time"
)

// Memoizing: an action such as {{url "polls:detail" .ID}} in an href is,
// once escaped, four reflective calls (url and three escapers) whose output
// depends on .ID alone. memoize replaces each action that is a chain of
// pure functions and escapers over one value from the data with one call
// of a function that keeps the output per value: a question's link costs a
// map lookup from its second render on.
//
// A value not seen yet is run through the very same action by a private
// copy of the page, assembled and escaped the same way, with the value as
// its dot: the output is what html/template writes for it. Only values
// that are plain data are kept (integers, booleans, short strings, times;
// no type with methods, whose String the escapers would print), at most
// maxMemo per action; the rest are computed each time.

const (
	memoPrefix = "_stack_memo_"
	maxMemo    = 1024 // outputs kept per action; the cache starts over when full
	maxMemoKey = 256  // longest string value kept
	// maxMemoOutput is the longest output kept: a pure function may make
	// a long text of a short key, and maxMemo of them would stay.
	maxMemoOutput = 4096
)

// memoize rewrites the actions of page (escaped, not folded) that depend
// on one value. copyPage assembles another copy of the same page.
func memoize(page *template.Template, copyPage func() (*template.Template, error), pure map[string]bool, funcs template.FuncMap) error {
	if len(pure) == 0 {
		return nil
	}
	var targets []memoTarget
	for _, name := range templateNames(page) {
		for k, a := range nodesOf[*parse.ActionNode](page.Lookup(name)) {
			if slot, ok := dynamicSlot(a.Pipe, pure); ok && valueParam(a.Pipe, slot, funcs) {
				targets = append(targets, memoTarget{name: name, ordinal: k, action: a, text: a.String(), slot: slot})
			}
		}
	}
	if len(targets) == 0 {
		return nil
	}
	// The first copy is made at the first miss (evaluators), not here: a
	// copy is a second assembly and escaping of the page, most of New's
	// cost, and most pages are not rendered in a worker's first seconds
	// (some never). It cannot fail where this page did not: it is made
	// from the same parsed files the same way.
	pool := &evaluators{free: make(chan *evaluator, maxEvaluators), build: func() (*evaluator, error) { return newEvaluator(copyPage, targets) }}
	memos := template.FuncMap{}
	for i, t := range targets {
		m := &memo{index: i, evals: pool}
		fn := fmt.Sprintf("%s%d", memoPrefix, i)
		memos[fn] = m.call
		dynamic := t.slot.get(t.action.Pipe)
		t.action.Pipe.Cmds = []*parse.CommandNode{{NodeType: parse.NodeCommand, Pos: t.action.Pos,
			Args: []parse.Node{parse.NewIdentifier(fn).SetPos(t.action.Pos), dynamic}}}
	}
	page.Funcs(memos)
	return nil
}

// valueParam reports whether the parameter the slot's value is passed to
// takes it as a value: text/template passes the address of an addressable
// value (a range element, its field) where only the pointer fits (a *T
// parameter, an interface a pointer method satisfies, a reflect.Value
// that shows it), and the memo's copy, given the value itself, would fail
// or differ.
func valueParam(pipe *parse.PipeNode, s slot, funcs template.FuncMap) bool {
	cmd, arg := s.cmd, s.arg
	if _, call := pipe.Cmds[cmd].Args[0].(*parse.IdentifierNode); !call {
		// A value first in the pipeline: the next command's final argument.
		if cmd+1 >= len(pipe.Cmds) {
			return false
		}
		cmd, arg = cmd+1, len(pipe.Cmds[cmd+1].Args)
	}
	name := pipe.Cmds[cmd].Args[0].(*parse.IdentifierNode).Ident
	if strings.HasPrefix(name, escaperPrefix) {
		return true // func(...any) string
	}
	ft := reflect.TypeOf(funcs[name])
	if ft == nil || ft.Kind() != reflect.Func {
		return false
	}
	var pt reflect.Type
	switch i := arg - 1; {
	case ft.IsVariadic() && i >= ft.NumIn()-1:
		pt = ft.In(ft.NumIn() - 1).Elem()
	case i < ft.NumIn():
		pt = ft.In(i)
	default:
		return false
	}
	switch pt.Kind() {
	case reflect.Pointer:
		return false
	case reflect.Interface:
		return pt.NumMethod() == 0
	}
	return pt != reflect.TypeFor[reflect.Value]()
}

// memoTarget is an action to memoize, found as the ordinal-th action of
// template name.
type memoTarget struct {
	name    string
	ordinal int
	action  *parse.ActionNode
	text    string // the action as it was, to find it in a copy
	slot    slot
}

// slot locates the dynamic node of a pipeline: argument arg of command cmd.
type slot struct{ cmd, arg int }

func (s slot) get(p *parse.PipeNode) parse.Node { return p.Cmds[s.cmd].Args[s.arg] }

// dynamicSlot reports whether pipe is pure calls and escapers over exactly
// one value from the data (a field, dot or variable) and constants, with
// two calls or more, and where that value is.
func dynamicSlot(pipe *parse.PipeNode, pure map[string]bool) (slot, bool) {
	if pipe == nil || len(pipe.Decl) > 0 || pipe.IsAssign || len(pipe.Cmds) == 0 {
		return slot{}, false
	}
	found, calls := slot{-1, -1}, 0
	for i, cmd := range pipe.Cmds {
		if len(cmd.Args) == 0 {
			return slot{}, false
		}
		start := 0
		if id, ok := cmd.Args[0].(*parse.IdentifierNode); ok {
			if !pure[id.Ident] && !strings.HasPrefix(id.Ident, escaperPrefix) {
				return slot{}, false
			}
			calls++
			start = 1
		} else if i > 0 || len(cmd.Args) > 1 {
			return slot{}, false // a value mid-pipe, or a method called with arguments
		}
		for j := start; j < len(cmd.Args); j++ {
			switch arg := cmd.Args[j]; arg.(type) {
			case *parse.FieldNode, *parse.DotNode, *parse.VariableNode:
				if found.cmd >= 0 {
					return slot{}, false // two values
				}
				found = slot{i, j}
			default:
				if !isConstant(arg) {
					return slot{}, false
				}
			}
		}
	}
	return found, found.cmd >= 0 && calls >= 2
}

// templateNames returns the names of page's templates, sorted, so that two
// copies of a page list them alike.
func templateNames(page *template.Template) []string {
	names := map[string]bool{}
	for _, t := range page.Templates() {
		if t.Tree != nil && t.Tree.Root != nil {
			names[t.Name()] = true
		}
	}
	return slices.Sorted(maps.Keys(names))
}

// nodesOf returns the nodes of t of type N (actions, ranges), in source
// order.
func nodesOf[N parse.Node](t *template.Template) []N {
	var out []N
	if t == nil || t.Tree == nil || t.Tree.Root == nil {
		return nil
	}
	walk(t.Tree.Root, func(n parse.Node) {
		if x, ok := n.(N); ok {
			out = append(out, x)
		}
	})
	return out
}

// evaluators keeps the idle copies of a page, up to maxEvaluators (a
// sync.Pool would drop them at every collection, and a copy costs a parse).
type evaluators struct {
	free  chan *evaluator
	build func() (*evaluator, error)
}

const maxEvaluators = 8

func (p *evaluators) get() (*evaluator, error) {
	select {
	case e := <-p.free:
		return e, nil
	default:
		return p.build()
	}
}

func (p *evaluators) put(e *evaluator) {
	select {
	case p.free <- e:
	default:
	}
}

// evaluator is a private copy of a page that runs one memoized action at a
// time, the action's value as its dot; one goroutine uses it at a time.
type evaluator struct {
	page  *template.Template
	roots []*parse.ListNode // by memo index: the action alone
	buf   strings.Builder
}

func newEvaluator(copyPage func() (*template.Template, error), targets []memoTarget) (*evaluator, error) {
	return newCopyEvaluator(copyPage, len(targets), func(c *template.Template, i int) (*parse.ListNode, error) {
		t := targets[i]
		as := nodesOf[*parse.ActionNode](c.Lookup(t.name))
		if t.ordinal >= len(as) {
			return nil, fmt.Errorf("templates: memoize %s: the copy differs", t.name)
		}
		a := as[t.ordinal]
		if a.String() != t.text {
			return nil, fmt.Errorf("templates: memoize %s: the copy differs at %s", t.name, a)
		}
		a.Pipe.Cmds[t.slot.cmd].Args[t.slot.arg] = &parse.DotNode{NodeType: parse.NodeDot, Pos: a.Pos}
		return &parse.ListNode{NodeType: parse.NodeList, Pos: a.Pos, Nodes: []parse.Node{a}}, nil
	})
}

// newCopyEvaluator copies the page and takes from the copy the root of
// each of its n memoized pieces (an action, or a range's body).
func newCopyEvaluator(copyPage func() (*template.Template, error), n int, root func(c *template.Template, i int) (*parse.ListNode, error)) (*evaluator, error) {
	c, err := copyPage()
	if err != nil {
		return nil, err
	}
	e := &evaluator{page: c}
	for i := range n {
		r, err := root(c, i)
		if err != nil {
			return nil, err
		}
		e.roots = append(e.roots, r)
	}
	return e, nil
}

// eval writes memoized action i for value v and returns the output.
func (e *evaluator) eval(i int, v any) (string, error) {
	tree := e.page.Tree
	root := tree.Root
	tree.Root = e.roots[i]
	e.buf.Reset()
	err := e.page.Execute(&e.buf, v)
	tree.Root = root
	return e.buf.String(), err
}

// memo is the function that replaces one action.
type memo struct {
	index int
	evals *evaluators

	mu   sync.RWMutex
	outs map[any]string
}

func (m *memo) call(v any) (string, error) {
	key, keep := memoKey(v)
	if keep {
		m.mu.RLock()
		s, ok := m.outs[key]
		m.mu.RUnlock()
		if ok {
			return s, nil
		}
	}
	e, err := m.evals.get()
	if err != nil {
		return "", err
	}
	s, err := e.eval(m.index, v)
	m.evals.put(e)
	if err != nil {
		return "", err
	}
	if keep && len(s) <= maxMemoOutput {
		m.mu.Lock()
		if m.outs == nil || len(m.outs) >= maxMemo {
			m.outs = make(map[any]string)
		}
		m.outs[key] = s
		m.mu.Unlock()
	}
	return s, nil
}

var timeType = reflect.TypeFor[time.Time]()

// memoKey returns v as a cache key if it is plain data whose equality is
// its identity for a template: a number, a boolean, a short string (of any
// named type without methods: the key keeps the type) or a time.
func memoKey(v any) (any, bool) {
	switch v := v.(type) {
	case int, int64, bool:
		return v, true
	case string:
		return v, len(v) <= maxMemoKey
	case nil:
		return nil, false
	}
	t := reflect.TypeOf(v)
	if t == timeType {
		return v, true
	}
	if t.NumMethod() > 0 {
		// String, Error, MarshalJSON...: the escapers print what the
		// method says, which may change while the value does not.
		return nil, false
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Bool:
		return v, true
	case reflect.String:
		return v, reflect.ValueOf(v).Len() <= maxMemoKey
	}
	return nil, false
}
