package config

import (
	"encoding"
	"fmt"
	"reflect"
	"sort"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/stack-web/stack/config/internal/redact"
)

// encoder turns a typed value into YAML nodes. It remembers which keys
// are names a user chose for map entries (an upstream called "api"), as
// opposed to setting names, so that redaction judges only the latter.
type encoder struct {
	names map[*yaml.Node]bool
}

// encode turns a typed value into a YAML node in field order, writing
// durations, sizes and modes the way a person writes them in stack.yaml.
func (e *encoder) encode(v reflect.Value) *yaml.Node {
	t := v.Type()
	if (t.Kind() == reflect.Pointer || t.Kind() == reflect.Interface) && v.IsNil() {
		// Before the marshalers: a value method called on a nil pointer panics.
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "null"}
	}
	switch {
	case t.Kind() == reflect.Pointer && v.IsNil():
		// An optional value left unset (before a nil *ByteSize is asked
		// for its text).
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "null"}
	case t == durationType:
		return scalar(time.Duration(v.Int()).String())
	case t == fileModeType:
		return &yaml.Node{Kind: yaml.ScalarNode, Style: yaml.DoubleQuotedStyle, Value: fmt.Sprintf("%04o", v.Uint())}
	case t.Implements(reflect.TypeFor[encoding.TextMarshaler]()):
		b, _ := v.Interface().(encoding.TextMarshaler).MarshalText()
		return scalar(string(b))
	case t.Implements(reflect.TypeFor[ScalarMarshaler]()):
		if s, ok := v.Interface().(ScalarMarshaler).MarshalScalar(); ok {
			return scalar(s)
		}
	}
	switch t.Kind() {
	case reflect.Struct:
		n := &yaml.Node{Kind: yaml.MappingNode}
		for i := 0; i < t.NumField(); i++ {
			if name := fieldName(t.Field(i)); name != "" {
				n.Content = append(n.Content, scalar(name), e.encode(v.Field(i)))
			}
		}
		return n
	case reflect.Map:
		n := &yaml.Node{Kind: yaml.MappingNode}
		keys := v.MapKeys()
		sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
		for _, k := range keys {
			key := scalar(k.String())
			if isEntry(v.MapIndex(k)) {
				if e.names == nil {
					e.names = map[*yaml.Node]bool{}
				}
				e.names[key] = true
			}
			n.Content = append(n.Content, key, e.encode(v.MapIndex(k)))
		}
		return n
	case reflect.Slice:
		n := &yaml.Node{Kind: yaml.SequenceNode}
		if t.Elem().Kind() != reflect.Struct {
			n.Style = yaml.FlowStyle
		}
		for i := 0; i < v.Len(); i++ {
			n.Content = append(n.Content, e.encode(v.Index(i)))
		}
		return n
	case reflect.Interface, reflect.Pointer:
		if v.IsNil() {
			return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "null"}
		}
		return e.encode(v.Elem())
	}
	var n yaml.Node
	if err := n.Encode(v.Interface()); err != nil {
		return scalar(fmt.Sprint(v.Interface()))
	}
	return &n
}

// isEntry reports whether a map value is a named entry (an upstream, an
// app's settings struct), whose key a user chose, rather than a value of
// free-form settings (map[string]any), whose key is a setting's name.
func isEntry(v reflect.Value) bool {
	for v.Kind() == reflect.Interface || v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return false
		}
		v = v.Elem()
	}
	return v.Kind() == reflect.Struct && !isLeaf(v.Type())
}

func scalar(s string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.ScalarNode, Value: s}
	if s == "" {
		n.Style = yaml.DoubleQuotedStyle
	}
	return n
}

// redact replaces the secrets in a rendered configuration (see package
// redact), judging setting names only: not the names a user chose.
func (e *encoder) redact(n *yaml.Node) {
	redact.Node(n, func(k *yaml.Node) bool { return e.names[k] })
}

// RedactCommand returns a command line with what `stack config` hides in
// one redacted (--password=..., KEY=VALUE of a secret key, URL and
// connection-string passwords), for showing it elsewhere: the admin's
// status names each of `processes` by its command.
func RedactCommand(argv []string) []string {
	e := &encoder{}
	n := e.encode(reflect.ValueOf(argv))
	e.redact(n)
	out := make([]string, len(n.Content))
	for i, c := range n.Content {
		out[i] = c.Value
	}
	return out
}
