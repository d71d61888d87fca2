package config

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/stack-web/stack/internal/envnames"
)

// The sources (the file, STACK_* variables, --set flags) are merged into
// one tree of nodes before anything is decoded, so that every source can
// set every key, the same way: a mapping merges key by key, anything else
// replaces what a weaker source said. Each node remembers where it was
// written, so that a problem names the variable or flag that caused it.

type nodeKind int

const (
	mapNode    nodeKind = iota
	listNode            // a YAML sequence
	scalarNode          // a YAML scalar, with its text as written
	textNode            // a string from the environment or --set, read by the key's type
)

type node struct {
	kind   nodeKind
	m      map[string]*node
	list   []*node
	value  any    // scalarNode: the value YAML resolved (string, int, float64, bool or nil)
	text   string // scalarNode: the text as written; textNode: the string
	quoted bool   // scalarNode: written in quotes, so a string whatever it looks like
	src    string // where it was written: the file's path, STACK_X, --set x
	line   int    // in a file, the line it was written on (0: not a file's)
}

// set stores a textNode at path, creating the mappings on the way and
// replacing whatever a weaker source had at path itself. On the way, a
// weaker source's YAML text that holds a mapping
// (STACK_EDGE_UPSTREAMS='{api: ...}') is read, so that the keys merge;
// anything else there (a list, a scalar) holds no keys: that is a problem
// naming both sources, and the weaker value stays for the decoder to
// judge, rather than being dropped without a word.
func (n *node) set(path []string, text, src string) error {
	cur := n
	for i, k := range path[:len(path)-1] {
		next := cur.m[k]
		switch {
		case next == nil || next.kind == scalarNode && next.value == nil && !next.quoted:
			next = &node{kind: mapNode, m: map[string]*node{}, src: src}
			cur.m[k] = next
		case next.kind == textNode:
			if y, err := parseYAML([]byte(next.text), next.src); err == nil && y.kind == mapNode {
				cur.m[k], next = y, y
			}
		}
		if next.kind != mapNode {
			return fmt.Errorf("%s: %s: %s is %s in %s, which holds no keys; ignored", src, strings.Join(path, "."), strings.Join(path[:i+1], "."), describe(next), next.src)
		}
		cur = next
	}
	cur.m[path[len(path)-1]] = &node{kind: textNode, text: text, src: src}
	return nil
}

// at returns the deepest node on a key path such as
// "edge.locations[1].upstream", or nil when the root has none of it.
func (n *node) at(key string) *node {
	var found *node
	cur := n
	for _, seg := range strings.Split(key, ".") {
		name, idx, _ := strings.Cut(seg, "[")
		if cur == nil || cur.kind != mapNode || cur.m[name] == nil {
			return found
		}
		cur = cur.m[name]
		found = cur
		for idx != "" {
			num, rest, _ := strings.Cut(idx, "]")
			i, err := strconv.Atoi(num)
			if err != nil || cur.kind != listNode || i < 0 || i >= len(cur.list) {
				return found
			}
			cur = cur.list[i]
			found = cur
			idx = strings.TrimPrefix(rest, "[")
		}
	}
	return found
}

// has reports whether a source gave the key (path of plain names) a
// value: "key: ~" keeps the default, so it counts as not given.
func (n *node) has(path ...string) bool {
	cur := n
	for _, k := range path {
		if cur == nil || cur.kind != mapNode || cur.m[k] == nil {
			return false
		}
		cur = cur.m[k]
	}
	return !(cur.kind == scalarNode && cur.value == nil && !cur.quoted)
}

// keyTree answers what keys exist, for resolving STACK_* names: the
// struct fields of File, the entries of its maps (those the sources and
// the defaults define, and the registered apps).
type keyTree struct {
	root     *node
	defaults File
	apps     map[string]reflect.Type // registered app → settings struct type (nil: no settings)
}

// applyEnv merges every STACK_* variable into root. The name after
// STACK_ is the key path in capitals with "_" for ".", but keys have
// underscores of their own (client_max_body_size), so the words are
// matched against the key tree: at each level the longest known key
// wins; under a map (edge.upstreams, apps) the entry is a name the file,
// the defaults or the registered apps define (compared in lower case,
// "-" as "_"), else the shortest run of words after which the rest is a
// known key. A variable that names no key is returned as a warning; one
// that cannot be set (see set) as a problem.
func (kt *keyTree) applyEnv(environ []string) (warnings, problems []string) {
	var names []string
	vals := map[string]string{}
	for _, kv := range environ {
		k, v, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "STACK_SUPERUSER_") {
			continue // createsuperuser's input (DESIGN.md), not a configuration key
		}
		if envnames.Internal(k) {
			continue // set by the stack for its own children (a prespawned worker loads its configuration with it)
		}
		if rest, ok := strings.CutPrefix(k, "STACK_"); ok && rest != "" {
			names = append(names, k)
			vals[k] = v
		}
	}
	slices.Sort(names)
	for _, name := range names {
		words := strings.Split(strings.ToLower(strings.TrimPrefix(name, "STACK_")), "_")
		path, ok := kt.resolve(nil, words, reflect.TypeFor[File]())
		if !ok {
			warnings = append(warnings, fmt.Sprintf("%s: names no configuration key; ignored (STACK_ + the key path in capitals, \"_\" for \".\", e.g. STACK_EDGE_LISTEN)", name))
			continue
		}
		if err := kt.root.set(path, vals[name], name); err != nil {
			problems = append(problems, err.Error())
		}
	}
	return warnings, problems
}

func (kt *keyTree) resolve(prefix, words []string, t reflect.Type) ([]string, bool) {
	if len(words) == 0 {
		return prefix, true
	}
	switch {
	case len(prefix) == 1 && prefix[0] == "apps":
		return kt.entry(prefix, words, slices.Collect(maps.Keys(kt.apps)), func(name string) reflect.Type { return kt.apps[name] })
	case t.Kind() == reflect.Struct && !isLeaf(t):
		for k := len(words); k >= 1; k-- {
			name := strings.Join(words[:k], "_")
			i, ok := yamlFields(t)[name]
			if !ok {
				continue
			}
			if p, ok := kt.resolve(append(slices.Clone(prefix), name), words[k:], t.Field(i).Type); ok {
				return p, true
			}
		}
	case t.Kind() == reflect.Map && t.Key().Kind() == reflect.String:
		var names []string
		if n := kt.root.get(prefix); n != nil && n.kind == mapNode {
			names = slices.Collect(maps.Keys(n.m))
		}
		if dv := kt.defaultMap(prefix); dv.IsValid() {
			for _, k := range dv.MapKeys() {
				names = append(names, k.String())
			}
		}
		return kt.entry(prefix, words, names, func(string) reflect.Type { return t.Elem() })
	}
	return nil, false
}

// entry resolves a map entry's name, then the key below it.
func (kt *keyTree) entry(prefix, words, names []string, elem func(string) reflect.Type) ([]string, bool) {
	// Known names first, longest first.
	slices.SortFunc(names, func(a, b string) int {
		if len(a) != len(b) {
			return len(b) - len(a)
		}
		return strings.Compare(a, b)
	})
	for _, name := range names {
		nw := strings.Split(strings.ToLower(strings.ReplaceAll(name, "-", "_")), "_")
		if len(nw) <= len(words) && slices.Equal(nw, words[:len(nw)]) {
			if t := elem(name); t != nil {
				if p, ok := kt.resolve(append(slices.Clone(prefix), name), words[len(nw):], t); ok {
					return p, true
				}
			} else {
				// An app without settings: keep the rest as one key, for
				// the decoder to refuse with "takes no settings".
				p := append(slices.Clone(prefix), name)
				if rest := words[len(nw):]; len(rest) > 0 {
					p = append(p, strings.Join(rest, "_"))
				}
				return p, true
			}
		}
	}
	if len(prefix) == 1 && prefix[0] == "apps" {
		return append(slices.Clone(prefix), words...)[:2], true // an unknown app: the decoder says so
	}
	// A new entry is set key by key (a whole one is set through the map:
	// STACK_EDGE_UPSTREAMS='{api: {...}}'), so a key must follow its name.
	for k := 1; k < len(words); k++ {
		name := strings.Join(words[:k], "_")
		if p, ok := kt.resolve(append(slices.Clone(prefix), name), words[k:], elem(name)); ok {
			return p, true
		}
	}
	return nil, false
}

// defaultMap returns the defaults' map at a key path, if any.
func (kt *keyTree) defaultMap(path []string) reflect.Value {
	v := reflect.ValueOf(kt.defaults)
	for _, k := range path {
		if v.Kind() != reflect.Struct {
			return reflect.Value{}
		}
		i, ok := yamlFields(v.Type())[k]
		if !ok {
			return reflect.Value{}
		}
		v = v.Field(i)
	}
	if v.Kind() != reflect.Map {
		return reflect.Value{}
	}
	return v
}

func (n *node) get(path []string) *node {
	cur := n
	for _, k := range path {
		if cur == nil || cur.kind != mapNode {
			return nil
		}
		cur = cur.m[k]
	}
	return cur
}

// applySets merges --set key=value flags into root. The key path is
// written with dots, as in the file, and as case-sensitive.
func applySets(root *node, sets []string) (problems []string, err error) {
	for _, kv := range sets {
		k, val, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--set %q: expected key=value, e.g. --set edge.listen=127.0.0.1:9000", kv)
		}
		path := strings.Split(k, ".")
		if slices.Contains(path, "") {
			return nil, fmt.Errorf("--set %q: the key has an empty part", kv)
		}
		if err := root.set(path, val, "--set "+k); err != nil {
			problems = append(problems, err.Error())
		}
	}
	return problems, nil
}

// maxFileSize bounds the configuration file.
const maxFileSize = 16 << 20

// readFile reads the configuration file, bounded (--config /dev/zero must
// not read until memory runs out), and whole: a file written in place
// while it is read (cp over it, an editor's save) is read again once
// after a pause, and refused if it changed again, rather than parse a
// half-written file. nginx parses what it finds; renaming a new file over
// the old one (mv) is atomic, but that advice is easy to miss.
func readFile(path string) ([]byte, error) {
	data, changed, err := readOnce(path)
	if err == nil && changed {
		time.Sleep(rereadPause)
		data, changed, err = readOnce(path)
		if err == nil && changed {
			return nil, fmt.Errorf("config: %s %w (twice, %v apart); write the new file beside it and rename it over (mv), which is atomic", path, ErrChanged, rereadPause)
		}
	}
	return data, err
}

// ErrChanged is a file readFile found written to as it read it, twice.
var ErrChanged = errors.New("changed while it was read")

// rereadPause is how long readFile waits before reading a file that
// changed while it was read: a cp or an editor's save is done by then.
const rereadPause = 100 * time.Millisecond

// readOnce reads path once; changed says the file (a regular one) was
// written to meanwhile: its size or modification time before and after
// the read differ, or it has more or fewer bytes than were read.
func readOnce(path string) (data []byte, changed bool, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, false, err
	}
	defer f.Close()
	before, err := f.Stat()
	if err != nil {
		return nil, false, fmt.Errorf("config: %w", err)
	}
	data, err = io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, false, fmt.Errorf("config: %w", err) // a directory: "read DIR: is a directory"
	}
	if len(data) > maxFileSize {
		return nil, false, fmt.Errorf("config: %s is larger than %d MiB; that is not a configuration file", path, maxFileSize>>20)
	}
	if !before.Mode().IsRegular() {
		return data, false, nil // a pipe: read once, as it comes
	}
	after, err := f.Stat()
	if err != nil {
		return nil, false, fmt.Errorf("config: %w", err)
	}
	changed = after.Size() != before.Size() || !after.ModTime().Equal(before.ModTime()) || int64(len(data)) != after.Size()
	return data, changed, nil
}

// parseFile parses a configuration file's text; path names it in messages.
func parseFile(data []byte, path string) (*node, error) {
	n, err := parseYAML(data, path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if n.kind == scalarNode && n.value == nil && !n.quoted {
		// "---" or "~" alone: an empty document, as an empty file.
		n = &node{kind: mapNode, m: map[string]*node{}, src: path}
	}
	if n.kind != mapNode {
		return nil, fmt.Errorf("%s: the file must be a mapping of keys (mode, edge, appserver, ...)", path)
	}
	return n, nil
}

// isLeaf reports whether values of t are single values in the
// configuration although Go represents them as structs.
func isLeaf(t reflect.Type) bool {
	return t == durationType || reflect.PointerTo(t).Implements(textType)
}

// splitWords splits s into words at spaces and commas, as a shell splits
// words: quotes ('...' or "...") keep spaces and commas inside one word,
// and a backslash escapes the next character.
func splitWords(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	var quote rune
	esc := false
	for _, r := range s {
		switch {
		case esc:
			cur.WriteRune(r)
			esc = false
		case quote != 0:
			if r == quote {
				quote = 0
			} else if r == '\\' && quote == '"' {
				esc = true
			} else {
				cur.WriteRune(r)
			}
		case r == '\\':
			esc, inWord = true, true
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == ',' || unicode.IsSpace(r):
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("%q has an unterminated %c quote", s, quote)
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}
