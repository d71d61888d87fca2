package config

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Explaining a configuration (`stack config --explain`): every effective
// value with where it came from, as `git config --show-origin` does. The
// merged tree of nodes that Load decoded still knows each value's source:
// the file and line, the STACK_* variable, or the --set flag; a key no
// source gave is a default, or follows another key (appserver.listen
// follows run_dir).

// origins is what load keeps for Explain.
type origins struct {
	source  string // the file's path
	root    *node
	derived map[string]string // key → the source of the key it follows, and why
}

// Setting is one effective value and its origin.
type Setting struct {
	Key string // edge.upstreams.app.read_timeout, edge.locations[0].path
	// Value is the value as stack.yaml would write it (a list in flow
	// style); a secret's is redacted unless asked otherwise.
	Value string
	// Origin is "default", "FILE:LINE", "STACK_NAME", "--set key", or
	// for a derived value "derived from KEY (...)".
	Origin string
}

// Explain loads the configuration as Load does and lists every effective
// value with its origin, in the order stack.yaml's keys are declared.
// Lists of mappings (locations, processes) are listed element by element;
// other lists are one value.
func Explain(opts Options, showSecrets bool) (*File, []Setting, error) {
	f, o, err := load(opts)
	if err != nil {
		return nil, nil, err
	}
	e := &encoder{}
	n := e.encode(reflect.ValueOf(*f))
	if !showSecrets {
		e.redact(n)
	}
	var out []Setting
	o.explain(n, "", &out)
	return f, out, nil
}

func (f *origins) explain(n *yaml.Node, key string, out *[]Setting) {
	switch {
	case n.Kind == yaml.MappingNode && len(n.Content) > 0:
		for i := 0; i+1 < len(n.Content); i += 2 {
			f.explain(n.Content[i+1], join(key, n.Content[i].Value), out)
		}
		return
	case n.Kind == yaml.SequenceNode && len(n.Content) > 0 && n.Content[0].Kind == yaml.MappingNode:
		for i, c := range n.Content {
			f.explain(c, fmt.Sprintf("%s[%d]", key, i), out)
		}
		return
	}
	b, err := yaml.Marshal(n)
	v := strings.TrimSuffix(string(b), "\n")
	if err != nil {
		v = n.Value
	}
	*out = append(*out, Setting{Key: key, Value: v, Origin: f.origin(key)})
}

// origin says where key's value came from.
func (f *origins) origin(key string) string {
	if d, ok := f.derived[key]; ok {
		// "SRC (KEY follows OTHER)": say where OTHER came from instead.
		if _, other, ok := strings.Cut(d, " follows "); ok {
			other = strings.TrimSuffix(other, ")")
			return "follows " + other + " (" + f.origin(other) + ")"
		}
		return strings.Replace(d, "built-in defaults", "default", 1)
	}
	n := f.root.exactly(key)
	if n == nil {
		return "default"
	}
	if n.src == f.source && n.line > 0 {
		return n.src + ":" + strconv.Itoa(n.line)
	}
	return n.src
}

// exactly returns the node a source gave for key itself, or nil when no
// source gave it (an ancestor's mapping without it: the value is the
// default's). Below a variable's or flag's text (a mapping written as
// YAML in STACK_PROCESSES='[...]'), everything comes from that text.
func (n *node) exactly(key string) *node {
	cur := n
	for _, seg := range strings.Split(key, ".") {
		name, idx, _ := strings.Cut(seg, "[")
		if cur.kind == textNode {
			return cur
		}
		if cur.kind != mapNode || cur.m[name] == nil {
			return nil
		}
		cur = cur.m[name]
		for idx != "" {
			if cur.kind == textNode {
				return cur
			}
			num, rest, _ := strings.Cut(idx, "]")
			i, err := strconv.Atoi(num)
			if err != nil || cur.kind != listNode || i < 0 || i >= len(cur.list) {
				return nil
			}
			cur = cur.list[i]
			idx = strings.TrimPrefix(rest, "[")
		}
	}
	if cur.kind == scalarNode && cur.value == nil && !cur.quoted {
		return nil // "key:" with no value keeps the default
	}
	return cur
}
