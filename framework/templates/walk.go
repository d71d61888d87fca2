package templates

import "text/template/parse"

// walk calls fn for n and every node below it, in source order.
// Only the node kinds that can contain other nodes are descended into.
func walk(n parse.Node, fn func(parse.Node)) {
	fn(n)
	switch n := n.(type) {
	case *parse.ListNode:
		for _, c := range n.Nodes {
			walk(c, fn)
		}
	case *parse.ActionNode:
		walk(n.Pipe, fn)
	case *parse.IfNode:
		walkBranch(&n.BranchNode, fn)
	case *parse.RangeNode:
		walkBranch(&n.BranchNode, fn)
	case *parse.WithNode:
		walkBranch(&n.BranchNode, fn)
	case *parse.TemplateNode:
		if n.Pipe != nil {
			walk(n.Pipe, fn)
		}
	case *parse.PipeNode:
		for _, d := range n.Decl {
			walk(d, fn)
		}
		for _, c := range n.Cmds {
			walk(c, fn)
		}
	case *parse.CommandNode:
		for _, a := range n.Args {
			walk(a, fn)
		}
	case *parse.ChainNode:
		walk(n.Node, fn)
	}
}

// walkBranch descends into the parts of an if, range or with. The typed-nil
// checks matter: a missing else is a nil *ListNode, not a nil Node.
func walkBranch(b *parse.BranchNode, fn func(parse.Node)) {
	if b.Pipe != nil {
		walk(b.Pipe, fn)
	}
	if b.List != nil {
		walk(b.List, fn)
	}
	if b.ElseList != nil {
		walk(b.ElseList, fn)
	}
}

// templateCalls returns every {{template}} call in tree t.
func templateCalls(t *parse.Tree) []*parse.TemplateNode {
	var calls []*parse.TemplateNode
	if t.Root == nil {
		return nil
	}
	walk(t.Root, func(n parse.Node) {
		if c, ok := n.(*parse.TemplateNode); ok {
			calls = append(calls, c)
		}
	})
	return calls
}
