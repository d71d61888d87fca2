package config

import (
	"encoding"
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"go.yaml.in/yaml/v3"
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

// hiddenKey matches the names of settings that hold secrets, as Django's
// HIDDEN_SETTINGS does, and the variables that hold credentials by other
// names (AUTHORIZATION, DB_CREDENTIALS).
var hiddenKey = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`(?i)api|token|key|secret|pass|signature|http_cookie|auth|credential`)
})

// redacted stands for a secret's value, as in Django's debug pages.
const redacted = "********************"

// urlPassword matches the password of a URL's user information
// (postgres://user:PASSWORD@host/db), which a key's name does not reveal:
// database: or DATABASE_URL= hold one.
// The password runs to the last @ before the host: an unencoded @ in it
// (p@ss) is common, and what follows the first @ is still the password.
var urlPassword = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`(://[^/?#@\s:]*:)[^/?#\s]*@`) })

// dsnPassword matches a password given as key=value: a libpq connection
// string (host=db password=...), a URL's query (?password=...).
var dsnPassword = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`(?i)(\b(?:password|passwd|pwd)=)('[^']*'|[^\s&;'"]+)`)
})

// redact replaces the values of secret keys in a rendered configuration,
// the values of secret KEY=VALUE entries (a process's env), and the
// passwords of URLs and connection strings anywhere.
func (e *encoder) redact(n *yaml.Node) {
	switch n.Kind {
	case yaml.MappingNode:
		secretName := namesASecret(n)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if (hiddenKey().MatchString(k.Value) && !e.names[k]) || (secretName && k.Value == "value") {
				hide(v) // secret_key: ..., api_keys: [a, b], or {name: X-Token, value: ...}
				continue
			}
			e.redact(v)
		}
	case yaml.SequenceNode:
		hideNext := false // the value of a secret flag given apart: --token T
		for i, c := range n.Content {
			if c.Kind == yaml.ScalarNode {
				if hideNext {
					hideNext = false
					if c.Value != "" {
						n.Content[i] = scalar(redacted)
						continue
					}
				}
				if k, _, ok := strings.Cut(c.Value, "="); ok && hiddenKey().MatchString(k) {
					n.Content[i] = scalar(k + "=" + redacted)
					continue
				}
				if name, _, ok := strings.Cut(c.Value, ":"); ok && headerName().MatchString(name) && hiddenKey().MatchString(name) {
					n.Content[i] = scalar(name + ": " + redacted) // curl -H 'Authorization: Bearer T'
					continue
				}
				switch {
				case c.Value == "-u" || c.Value == "--user" || c.Value == "--proxy-user":
					// curl's user:password: the flag's name does not say so
					if i+1 < len(n.Content) {
						if user, _, ok := strings.Cut(n.Content[i+1].Value, ":"); ok {
							n.Content[i+1].Value = user + ":" + redacted
						}
					}
				case strings.HasPrefix(c.Value, "-") && hiddenKey().MatchString(c.Value):
					hideNext = true
				}
			}
			e.redact(c)
		}
	case yaml.ScalarNode:
		v := urlPassword().ReplaceAllString(n.Value, "${1}"+redacted+"@")
		v = dsnPassword().ReplaceAllString(v, "${1}"+redacted)
		if v != n.Value {
			*n = *scalar(v)
		}
	}
}

// namesASecret says whether mapping n is a name and its value (an edge
// location's header: {name: X-Internal-Token, value: ...}) whose name is
// a secret's.
func namesASecret(n *yaml.Node) bool {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k, v := n.Content[i], n.Content[i+1]; k.Value == "name" && v.Kind == yaml.ScalarNode {
			return hiddenKey().MatchString(v.Value)
		}
	}
	return false
}

// headerName matches an HTTP header's name, before the colon of a
// "Name: value" argument.
var headerName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9-]+$`) })

// hide replaces every value under a secret key.
func hide(n *yaml.Node) {
	switch n.Kind {
	case yaml.ScalarNode:
		if n.Value != "" && n.Tag != "!!null" {
			*n = *scalar(redacted)
		}
	case yaml.MappingNode:
		for i := 1; i < len(n.Content); i += 2 {
			hide(n.Content[i])
		}
	case yaml.SequenceNode:
		for _, c := range n.Content {
			hide(c)
		}
	}
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
