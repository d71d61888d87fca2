package config

import (
	"bytes"
	"fmt"
	"io"

	"go.yaml.in/yaml/v3"
)

// Reading YAML into nodes: the file, and the YAML a variable or flag may
// hold. Anchors and aliases are expanded, and merge keys (<<: *defaults)
// merged, as YAML 1.1 defines them, since every YAML loader users know
// does so; but expansion is bounded, as a few lines of nested aliases
// would otherwise expand to billions of values (the "billion laughs").

// maxAliasNodes bounds how many values aliases may add to a document
// beyond the ones written in it.
const maxAliasNodes = 10000

// maxDepth bounds nesting; no configuration is nested this deep.
const maxDepth = 100

var errAliasBomb = fmt.Errorf("aliases expand to more than %d values; write the values out instead", maxAliasNodes)

// parseYAML reads a YAML document into nodes. Keys are kept as written:
// the decoder matches them case-sensitively, as the documentation says.
func parseYAML(data []byte, src string) (*node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil && err != io.EOF {
		return nil, err
	}
	// A second document (after ---) would be ignored by a loader that
	// reads one: say so rather than drop it.
	for {
		var more yaml.Node
		err := dec.Decode(&more)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		if len(more.Content) > 0 && !(more.Content[0].Kind == yaml.ScalarNode && more.Content[0].ShortTag() == "!!null") {
			return nil, fmt.Errorf("line %d: a second YAML document (after ---); the configuration is one document", more.Content[0].Line)
		}
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return &node{kind: mapNode, m: map[string]*node{}, src: src}, nil
	}
	r := &yamlReader{src: src, budget: maxAliasNodes}
	return r.read(doc.Content[0], 0, false)
}

type yamlReader struct {
	src    string
	budget int // values aliases may still add
}

// read converts y; aliased says it is reached through an alias, so that
// it counts against the budget.
func (r *yamlReader) read(y *yaml.Node, depth int, aliased bool) (*node, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("line %d: nested more than %d levels deep (or an alias refers to the mapping it is in)", y.Line, maxDepth)
	}
	if aliased {
		if r.budget--; r.budget < 0 {
			return nil, errAliasBomb
		}
	}
	switch y.Kind {
	case yaml.AliasNode:
		return r.read(y.Alias, depth+1, true)
	case yaml.MappingNode:
		return r.mapping(y, depth, aliased)
	case yaml.SequenceNode:
		n := &node{kind: listNode, src: r.src, line: y.Line}
		for _, c := range y.Content {
			v, err := r.read(c, depth+1, aliased)
			if err != nil {
				return nil, err
			}
			n.list = append(n.list, v)
		}
		return n, nil
	default:
		n := &node{kind: scalarNode, text: y.Value, src: r.src, line: y.Line, quoted: y.Style&(yaml.SingleQuotedStyle|yaml.DoubleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle) != 0}
		if err := y.Decode(&n.value); err != nil {
			return nil, fmt.Errorf("line %d: %w", y.Line, err)
		}
		return n, nil
	}
}

// mapping converts a YAML mapping. A key written twice is an error (a
// YAML parser would keep the last silently); a merge key (<<) adds the
// entries of the mappings it names that the mapping does not give
// itself, the first named winning.
func (r *yamlReader) mapping(y *yaml.Node, depth int, aliased bool) (*node, error) {
	n := &node{kind: mapNode, m: map[string]*node{}, src: r.src, line: y.Line}
	var merges []*yaml.Node
	for i := 0; i+1 < len(y.Content); i += 2 {
		k, v := y.Content[i], y.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			return nil, fmt.Errorf("line %d: a key must be a plain name", k.Line)
		}
		if k.ShortTag() == "!!merge" {
			merges = append(merges, v)
			continue
		}
		if _, dup := n.m[k.Value]; dup {
			return nil, fmt.Errorf("line %d: key %q is given twice in the same mapping", k.Line, k.Value)
		}
		c, err := r.read(v, depth+1, aliased)
		if err != nil {
			return nil, err
		}
		n.m[k.Value] = c
	}
	for _, v := range merges {
		from := []*yaml.Node{v}
		if v.Kind == yaml.SequenceNode {
			from = v.Content // <<: [*a, *b]
		}
		for _, f := range from {
			m, err := r.read(f, depth+1, aliased)
			if err != nil {
				return nil, err
			}
			if m.kind != mapNode {
				return nil, fmt.Errorf("line %d: a merge key (<<) takes a mapping or a list of mappings, e.g. <<: *defaults", f.Line)
			}
			for key, val := range m.m {
				if _, given := n.m[key]; !given {
					n.m[key] = val
				}
			}
		}
	}
	return n, nil
}
