package config

import (
	"encoding"
	"fmt"
	"io/fs"
	"maps"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
)

// decoder stores the merged tree of nodes into typed structs that hold the
// defaults, strictly: an unknown key, a wrong type or a bad value is a
// problem that names where it was written and its key path, and decoding
// goes on so that every problem is reported at once. It runs once, at
// start-up; no request ever goes through reflection.
type decoder struct {
	problems []string
	bad      map[string]bool // the key paths of problems, so validation does not repeat them
	// newElem returns the defaults for a new element of a map or list of
	// this type (an upstream entry starts from the upstream defaults).
	newElem map[reflect.Type]func() reflect.Value
}

var (
	durationType = reflect.TypeFor[time.Duration]()
	fileModeType = reflect.TypeFor[fs.FileMode]()
	textType     = reflect.TypeFor[encoding.TextUnmarshaler]()
	scalarType   = reflect.TypeFor[ScalarUnmarshaler]()
)

// ScalarUnmarshaler is a settings struct that may also be written as one
// word: edge.tls is "internal" or {cert_file: F, key_file: F}.
type ScalarUnmarshaler interface {
	UnmarshalScalar(s string) error
}

// ScalarMarshaler is the other way: a struct shown as one word when it
// holds what that word set (ok), as a mapping otherwise.
type ScalarMarshaler interface {
	MarshalScalar() (s string, ok bool)
}

func (d *decoder) problem(n *node, path, format string, args ...any) {
	d.problems = append(d.problems, n.src+": "+path+": "+fmt.Sprintf(format, args...))
	if d.bad == nil {
		d.bad = map[string]bool{}
	}
	d.bad[path] = true
}

// decode stores n into dst (addressable), which holds the defaults.
func (d *decoder) decode(path string, n *node, dst reflect.Value) {
	if n == nil || n.kind == scalarNode && n.value == nil && !n.quoted {
		return // "key:" with no value keeps the default
	}
	t := dst.Type()
	if n.kind == textNode && !isLeaf(t) && (t.Kind() == reflect.Struct || t.Kind() == reflect.Map ||
		t.Kind() == reflect.Slice && (t.Elem().Kind() == reflect.Struct || t.Elem().Kind() == reflect.Map)) {
		// A mapping or a list of mappings from one variable or flag is
		// written in YAML: STACK_PROCESSES='[{name: worker, command: [./worker]}]'.
		y, err := parseYAML([]byte(n.text), n.src)
		if err != nil {
			d.problem(n, path, "not valid YAML for a %s: %v", describeType(t), err)
			return
		}
		d.decode(path, y, dst)
		return
	}
	switch {
	case t == durationType:
		d.duration(path, n, dst)
		return
	case t == fileModeType:
		d.fileMode(path, n, dst)
		return
	case reflect.PointerTo(t).Implements(textType):
		s, ok := scalarString(n)
		if !ok {
			d.problem(n, path, "expected a single value, got %s", describe(n))
			return
		}
		if err := dst.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(s)); err != nil {
			d.problem(n, path, "%v", err)
		}
		return
	case n.kind != mapNode && reflect.PointerTo(t).Implements(scalarType):
		s, ok := scalarString(n)
		if !ok {
			d.problem(n, path, "expected a word or a mapping, got %s", describe(n))
			return
		}
		if err := dst.Addr().Interface().(ScalarUnmarshaler).UnmarshalScalar(s); err != nil {
			d.problem(n, path, "%v", err)
		}
		return
	}
	switch t.Kind() {
	case reflect.Pointer: // an optional value: *bool, where nil means "the default"
		if dst.IsNil() {
			dst.Set(reflect.New(t.Elem()))
		}
		d.decode(path, n, dst.Elem())
	case reflect.Struct:
		d.structure(path, n, dst)
	case reflect.Map:
		d.mapping(path, n, dst)
	case reflect.Slice:
		d.list(path, n, dst)
	case reflect.String:
		s, ok := scalarString(n)
		if !ok {
			d.problem(n, path, "expected a string, got %s", describe(n))
			return
		}
		dst.SetString(s)
	case reflect.Bool:
		switch v := n.value.(type) {
		case bool:
			dst.SetBool(v)
		default:
			b, err := strconv.ParseBool(strings.TrimSpace(n.text))
			if n.kind != textNode || err != nil {
				d.problem(n, path, "%s is not true or false", describe(n))
				return
			}
			dst.SetBool(b)
		}
	case reflect.Int, reflect.Int64, reflect.Int32:
		i, ok := integer(n)
		if !ok {
			d.problem(n, path, "expected a whole number, got %s", describe(n))
			return
		}
		if dst.OverflowInt(i) {
			d.problem(n, path, "%d is out of range", i)
			return
		}
		dst.SetInt(i)
	case reflect.Interface:
		dst.Set(reflect.ValueOf(plain(n)))
	default:
		d.problem(n, path, "cannot be configured (internal: unsupported type %s)", t)
	}
}

func (d *decoder) structure(path string, n *node, dst reflect.Value) {
	if n.kind != mapNode {
		d.problem(n, path, "expected a mapping of keys, got %s", describe(n))
		return
	}
	fields := yamlFields(dst.Type())
	for _, key := range sortedKeys(n.m) {
		i, ok := fields[key]
		if !ok {
			d.problem(n.m[key], join(path, key), "unknown key%s", suggest(key, fields))
			continue
		}
		d.decode(join(path, key), n.m[key], dst.Field(i))
	}
}

// mapping decodes a map of named entries. The sources' map replaces the
// default one as a whole (defining upstreams means defining all of them),
// but an entry named like a default entry starts from it, so that
// edge.upstreams.app.read_timeout changes the default upstream's timeout
// and keeps its servers, whichever source says so.
func (d *decoder) mapping(path string, n *node, dst reflect.Value) {
	if n.kind != mapNode {
		d.problem(n, path, "expected a mapping of names, got %s", describe(n))
		return
	}
	t := dst.Type()
	if t.Key().Kind() != reflect.String {
		d.problem(n, path, "internal: map key type %s", t.Key())
		return
	}
	out := reflect.MakeMapWithSize(t, len(n.m))
	for _, key := range sortedKeys(n.m) {
		k := reflect.ValueOf(key).Convert(t.Key())
		elem := d.fresh(t.Elem())
		if !dst.IsNil() {
			if def := dst.MapIndex(k); def.IsValid() {
				elem.Set(def)
			}
		}
		d.decode(join(path, key), n.m[key], elem)
		out.SetMapIndex(k, elem)
	}
	dst.Set(out)
}

func (d *decoder) list(path string, n *node, dst reflect.Value) {
	var items []*node
	switch n.kind {
	case listNode:
		items = n.list
	case textNode:
		if strings.HasPrefix(strings.TrimSpace(n.text), "[") {
			// A YAML flow list; "[::1]:8000" is not one, but an address.
			if y, err := parseYAML([]byte(n.text), n.src); err == nil && y.kind == listNode {
				items = y.list
				break
			}
		}
		// One variable or flag holds a list as words, split as a shell
		// does: "a,b", "a b" or "sh -c 'echo hello world'".
		words, err := splitWords(n.text)
		if err != nil {
			d.problem(n, path, "%v", err)
			return
		}
		for _, w := range words {
			items = append(items, &node{kind: textNode, text: w, src: n.src})
		}
	default:
		// In the file a list is a list: splitting a string on spaces
		// would break quoted arguments and paths with spaces.
		d.problem(n, path, "expected a list such as [a, b], got %s (a string is not split in the file)", describe(n))
		return
	}
	if len(items) == 0 {
		dst.Set(reflect.Zero(dst.Type())) // an empty list is no list
		return
	}
	out := reflect.MakeSlice(dst.Type(), 0, len(items))
	for i, item := range items {
		elem := d.fresh(dst.Type().Elem())
		d.decode(fmt.Sprintf("%s[%d]", path, i), item, elem)
		out = reflect.Append(out, elem)
	}
	dst.Set(out)
}

func (d *decoder) fresh(t reflect.Type) reflect.Value {
	if f, ok := d.newElem[t]; ok {
		return f()
	}
	return reflect.New(t).Elem()
}

func (d *decoder) duration(path string, n *node, dst reflect.Value) {
	if _, isString := n.value.(string); isString || n.kind == textNode {
		dur, err := time.ParseDuration(strings.TrimSpace(n.text))
		if err != nil {
			if i, ok := integer(n); ok && i == 0 {
				dst.SetInt(0)
				return
			}
			d.problem(n, path, "%q is not a duration: use a number with a unit, e.g. 500ms, 10s, 1m30s", n.text)
			return
		}
		dst.SetInt(int64(dur))
		return
	}
	if i, ok := integer(n); ok && i == 0 {
		dst.SetInt(0)
		return
	}
	d.problem(n, path, "%s has no unit: write it as a duration, e.g. 10s or 500ms", describe(n))
}

// fileMode reads a permission mode in octal, as chmod does, whether it is
// quoted or not: YAML would read an unquoted 0660 as octal but 400 as
// decimal, so the text as written is used, never YAML's number.
func (d *decoder) fileMode(path string, n *node, dst reflect.Value) {
	s := strings.TrimSpace(n.text)
	s = strings.TrimPrefix(strings.TrimPrefix(s, "0o"), "0O")
	m, err := strconv.ParseUint(s, 8, 32)
	if n.kind == mapNode || n.kind == listNode || err != nil || m > 0o777 {
		d.problem(n, path, "%s is not a permission mode in octal, e.g. \"0660\"", describe(n))
		return
	}
	dst.SetUint(m)
}

// fieldName is the YAML key of a struct field ("" for a field that is not
// configuration: unexported, or tagged "-").
func fieldName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	if name == "-" || !f.IsExported() {
		return ""
	}
	if name == "" {
		name = strings.ToLower(f.Name)
	}
	return name
}

// yamlFields maps a struct's YAML keys to field indexes.
func yamlFields(t reflect.Type) map[string]int {
	out := map[string]int{}
	for i := 0; i < t.NumField(); i++ {
		if name := fieldName(t.Field(i)); name != "" {
			out[name] = i
		}
	}
	return out
}

// scalarString is a scalar's text as written: "secret_key: 0123" is the
// string "0123", not the number 83.
func scalarString(n *node) (string, bool) {
	if n.kind != scalarNode && n.kind != textNode {
		return "", false
	}
	return n.text, true
}

func integer(n *node) (int64, bool) {
	switch v := n.value.(type) {
	case int:
		return int64(v), true
	case int64:
		return v, true
	case uint64:
		if v > math.MaxInt64 {
			return 0, false
		}
		return int64(v), true
	case float64:
		if v != math.Trunc(v) || math.Abs(v) > 1<<53 {
			return 0, false
		}
		return int64(v), true
	}
	if n.kind == textNode {
		i, err := strconv.ParseInt(strings.TrimSpace(n.text), 10, 64)
		return i, err == nil
	}
	return 0, false
}

func describe(n *node) string {
	switch n.kind {
	case mapNode:
		return "a mapping"
	case listNode:
		return "a list"
	case textNode:
		return strconv.Quote(n.text)
	}
	if _, isString := n.value.(string); isString {
		return strconv.Quote(n.text)
	}
	return n.text
}

func describeType(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Slice:
		return "list"
	default:
		return "mapping"
	}
}

// plain turns nodes into maps, lists and scalars, for settings of type any.
func plain(n *node) any {
	switch n.kind {
	case mapNode:
		m := make(map[string]any, len(n.m))
		for k, v := range n.m {
			m[k] = plain(v)
		}
		return m
	case listNode:
		l := make([]any, len(n.list))
		for i, v := range n.list {
			l[i] = plain(v)
		}
		return l
	case textNode:
		return n.text
	}
	return n.value
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// sortedKeys returns m's keys in order, for messages that read the same
// every time.
func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}

// suggest names the closest known key, or lists them all.
func suggest(key string, fields map[string]int) string {
	if _, ok := fields[strings.ToLower(key)]; ok {
		return fmt.Sprintf(" (did you mean %s? keys are lower case)", strings.ToLower(key))
	}
	best, bestD := "", 1<<30
	for k := range fields {
		if d := editDistance(key, k); d < bestD || d == bestD && k < best {
			best, bestD = k, d
		}
	}
	prefix := ""
	for k := range fields {
		if len(k) >= 4 && strings.HasPrefix(key, k) && len(k) > len(prefix) {
			prefix = k // "listen_typo" → listen
		}
	}
	if prefix != "" {
		best, bestD = prefix, 0
	}
	if best != "" && bestD <= max(2, len(key)/3) {
		return fmt.Sprintf(" (did you mean %s?)", best)
	}
	return fmt.Sprintf(" (known keys: %s)", strings.Join(sortedKeys(fields), ", "))
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
