package config

import (
	"encoding"
	"fmt"
	"io/fs"
	"maps"
	"math"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// decoder turns the generic tree that viper produces (maps, lists and
// scalars, with environment values as strings) into typed structs, strictly:
// an unknown key, a wrong type or a bad value is a problem that names its
// key path, and decoding goes on so that every problem is reported at once.
// It runs once, at start-up; no request ever goes through reflection.
type decoder struct {
	problems []string
	// newElem returns the defaults for a new element of a map or list of
	// this type (an upstream entry starts from the upstream defaults).
	newElem map[reflect.Type]func() reflect.Value
}

var (
	durationType = reflect.TypeFor[time.Duration]()
	fileModeType = reflect.TypeFor[fs.FileMode]()
	textType     = reflect.TypeFor[encoding.TextUnmarshaler]()
)

func (d *decoder) problem(path, format string, args ...any) {
	d.problems = append(d.problems, path+": "+fmt.Sprintf(format, args...))
}

// decode stores src into dst (addressable), which holds the defaults.
func (d *decoder) decode(path string, src any, dst reflect.Value) {
	if src == nil {
		return // "key:" with no value keeps the default
	}
	t := dst.Type()
	switch {
	case t == durationType:
		d.duration(path, src, dst)
		return
	case t == fileModeType:
		d.fileMode(path, src, dst)
		return
	case reflect.PointerTo(t).Implements(textType):
		s, ok := scalarString(src)
		if !ok {
			d.problem(path, "expected a single value, got %s", describe(src))
			return
		}
		if err := dst.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(s)); err != nil {
			d.problem(path, "%v", err)
		}
		return
	}
	switch t.Kind() {
	case reflect.Pointer: // an optional value: *bool, where nil means "the default"
		if dst.IsNil() {
			dst.Set(reflect.New(t.Elem()))
		}
		d.decode(path, src, dst.Elem())
	case reflect.Struct:
		d.structure(path, src, dst)
	case reflect.Map:
		d.mapping(path, src, dst)
	case reflect.Slice:
		d.list(path, src, dst)
	case reflect.String:
		s, ok := scalarString(src)
		if !ok {
			d.problem(path, "expected a string, got %s", describe(src))
			return
		}
		dst.SetString(s)
	case reflect.Bool:
		switch v := src.(type) {
		case bool:
			dst.SetBool(v)
		case string:
			b, err := strconv.ParseBool(strings.TrimSpace(v))
			if err != nil {
				d.problem(path, "%q is not true or false", v)
				return
			}
			dst.SetBool(b)
		default:
			d.problem(path, "expected true or false, got %s", describe(src))
		}
	case reflect.Int, reflect.Int64, reflect.Int32:
		n, ok := integer(src)
		if !ok {
			d.problem(path, "expected a whole number, got %s", describe(src))
			return
		}
		if dst.OverflowInt(n) {
			d.problem(path, "%d is out of range", n)
			return
		}
		dst.SetInt(n)
	case reflect.Interface:
		dst.Set(reflect.ValueOf(src))
	default:
		d.problem(path, "cannot be configured (internal: unsupported type %s)", t)
	}
}

func (d *decoder) structure(path string, src any, dst reflect.Value) {
	m, ok := src.(map[string]any)
	if !ok {
		d.problem(path, "expected a mapping of keys, got %s", describe(src))
		return
	}
	fields := yamlFields(dst.Type())
	for _, key := range sortedKeys(m) {
		i, ok := fields[key]
		if !ok {
			d.problem(join(path, key), "unknown key%s", suggest(key, fields))
			continue
		}
		d.decode(join(path, key), m[key], dst.Field(i))
	}
}

func (d *decoder) mapping(path string, src any, dst reflect.Value) {
	m, ok := src.(map[string]any)
	if !ok {
		d.problem(path, "expected a mapping of names, got %s", describe(src))
		return
	}
	t := dst.Type()
	if t.Key().Kind() != reflect.String {
		d.problem(path, "internal: map key type %s", t.Key())
		return
	}
	// A mapping in the file replaces the default one as a whole: defining
	// upstreams means defining all of them.
	out := reflect.MakeMapWithSize(t, len(m))
	for _, key := range sortedKeys(m) {
		elem := d.fresh(t.Elem())
		d.decode(join(path, key), m[key], elem)
		out.SetMapIndex(reflect.ValueOf(key).Convert(t.Key()), elem)
	}
	dst.Set(out)
}

func (d *decoder) list(path string, src any, dst reflect.Value) {
	var items []any
	switch v := src.(type) {
	case []any:
		items = v
	case string:
		// Environment variables and --set give lists as one string:
		// "a,b" or "a b".
		for _, f := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' }) {
			items = append(items, f)
		}
	default:
		if rv := reflect.ValueOf(src); rv.Kind() == reflect.Slice {
			for i := 0; i < rv.Len(); i++ {
				items = append(items, rv.Index(i).Interface())
			}
		} else {
			d.problem(path, "expected a list, got %s", describe(src))
			return
		}
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

func (d *decoder) duration(path string, src any, dst reflect.Value) {
	switch v := src.(type) {
	case string:
		dur, err := time.ParseDuration(strings.TrimSpace(v))
		if err != nil {
			d.problem(path, "%q is not a duration: use a number with a unit, e.g. 500ms, 10s, 1m30s", v)
			return
		}
		dst.SetInt(int64(dur))
	case time.Duration:
		dst.SetInt(int64(v))
	default:
		if n, ok := integer(src); ok && n == 0 {
			dst.SetInt(0)
			return
		}
		d.problem(path, "%s has no unit: write it as a duration, e.g. 10s or 500ms", describe(src))
	}
}

func (d *decoder) fileMode(path string, src any, dst reflect.Value) {
	var n uint64
	var err error
	switch v := src.(type) {
	case string:
		s := strings.TrimPrefix(strings.TrimPrefix(strings.TrimSpace(v), "0o"), "0O")
		n, err = strconv.ParseUint(s, 8, 32)
	default:
		// An unquoted 0660 in YAML is read as the number 432 (octal) or
		// 660 (decimal), depending on the YAML version: only a value that
		// is plausible as permission bits is taken.
		i, ok := integer(src)
		if !ok || i < 0 || i > 0o777 {
			err = fmt.Errorf("bad mode")
		}
		n = uint64(i)
	}
	if err != nil || n > 0o777 {
		d.problem(path, "%s is not a permission mode; write it quoted in octal, e.g. \"0660\"", describe(src))
		return
	}
	dst.SetUint(n)
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

func scalarString(src any) (string, bool) {
	switch v := src.(type) {
	case string:
		return v, true
	case bool, int, int64, int32, uint64, float64:
		return fmt.Sprint(v), true
	}
	return "", false
}

func integer(src any) (int64, bool) {
	switch v := src.(type) {
	case int:
		return int64(v), true
	case int64:
		return v, true
	case int32:
		return int64(v), true
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
	case string:
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		return n, err == nil
	}
	return 0, false
}

func describe(src any) string {
	switch v := src.(type) {
	case string:
		return strconv.Quote(v)
	case map[string]any:
		return "a mapping"
	case []any:
		return "a list"
	default:
		return fmt.Sprint(v)
	}
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

// encode turns a typed value into a YAML node in field order, writing
// durations, sizes and modes the way a person writes them in stack.yaml.
func encode(v reflect.Value) *yaml.Node {
	t := v.Type()
	switch {
	case t == durationType:
		return scalar(time.Duration(v.Int()).String())
	case t == fileModeType:
		return &yaml.Node{Kind: yaml.ScalarNode, Style: yaml.DoubleQuotedStyle, Value: fmt.Sprintf("%04o", v.Uint())}
	case t.Implements(reflect.TypeFor[encoding.TextMarshaler]()):
		b, _ := v.Interface().(encoding.TextMarshaler).MarshalText()
		return scalar(string(b))
	}
	switch t.Kind() {
	case reflect.Struct:
		n := &yaml.Node{Kind: yaml.MappingNode}
		for i := 0; i < t.NumField(); i++ {
			if name := fieldName(t.Field(i)); name != "" {
				n.Content = append(n.Content, scalar(name), encode(v.Field(i)))
			}
		}
		return n
	case reflect.Map:
		n := &yaml.Node{Kind: yaml.MappingNode}
		keys := v.MapKeys()
		sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
		for _, k := range keys {
			n.Content = append(n.Content, scalar(k.String()), encode(v.MapIndex(k)))
		}
		return n
	case reflect.Slice:
		n := &yaml.Node{Kind: yaml.SequenceNode}
		if t.Elem().Kind() != reflect.Struct {
			n.Style = yaml.FlowStyle
		}
		for i := 0; i < v.Len(); i++ {
			n.Content = append(n.Content, encode(v.Index(i)))
		}
		return n
	case reflect.Interface, reflect.Pointer:
		if v.IsNil() {
			return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "null"}
		}
		return encode(v.Elem())
	}
	var n yaml.Node
	if err := n.Encode(v.Interface()); err != nil {
		return scalar(fmt.Sprint(v.Interface()))
	}
	return &n
}

func scalar(s string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.ScalarNode, Value: s}
	if s == "" {
		n.Style = yaml.DoubleQuotedStyle
	}
	return n
}

// flatten lists the scalar leaves of a typed value as key paths with their
// YAML text, for registering defaults with viper (so that STACK_* variables
// reach them). Maps and lists of structs are whole values and not flattened.
func flatten(prefix string, v reflect.Value, out map[string]any) {
	t := v.Type()
	if t.Kind() == reflect.Struct && t != durationType {
		for i := 0; i < t.NumField(); i++ {
			if name := fieldName(t.Field(i)); name != "" {
				flatten(join(prefix, name), v.Field(i), out)
			}
		}
		return
	}
	if t.Kind() == reflect.Map || (t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Struct) {
		return
	}
	node := encode(v)
	var x any
	if err := node.Decode(&x); err == nil {
		out[prefix] = x
	}
}
