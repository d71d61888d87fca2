package templates

import (
	"errors"
	"fmt"
	"html/template"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Builtins returns the built-in filters, Django's most used ones. Go
// pipelines pass the piped value as the last argument, so the value comes
// last in every signature: {{.Text | truncatechars 20}} is truncatechars(20, .Text).
//
// Every filter that produces text returns a string, never template.HTML,
// so that html/template escapes it for the context it lands in. The one
// exception, linebreaksbr, escapes its input itself before adding <br>.
func Builtins() template.FuncMap {
	return template.FuncMap{
		"date":          date,
		"default":       defaultFilter,
		"truncatechars": truncatechars,
		"pluralize":     pluralize,
		"linebreaksbr":  linebreaksbr,
		"yesno":         yesno,
		"length":        length,
		"lower":         lower,
		"upper":         upper,
		"title":         title,
	}
}

// defaultFilter is {{.X | default "none"}}: def when v is empty (nil, false,
// zero, "", an empty slice or map, a zero time), else v unchanged.
func defaultFilter(def, v any) any {
	if empty, _ := isEmpty(v); empty {
		return def
	}
	return v
}

// truncatechars is Django's: text longer than n runes is cut so that the
// result, "…" included, is n runes at most. A cut never separates a letter
// from the combining marks that follow it.
func truncatechars(n int, v any) string {
	s := toString(v)
	if n <= 0 {
		return ""
	}
	// One pass over the bytes, no []rune: cut is where rune n-1 starts.
	runes, cut := 0, 0
	for i := range s {
		if runes == n-1 {
			cut = i
		}
		if runes == n { // s has more than n runes
			for cut > 0 {
				if r, _ := utf8.DecodeRuneInString(s[cut:]); !unicode.Is(unicode.Mn, r) {
					break
				}
				_, size := utf8.DecodeLastRuneInString(s[:cut])
				cut -= size
			}
			return s[:cut] + "…"
		}
		runes++
	}
	return s
}

// pluralize is {{.N | pluralize}} ("s" unless N is 1), {{.N | pluralize "es"}}
// or {{.N | pluralize "y,ies"}}. N is a number, a numeric string, or
// anything with a length (slice, map, array), which counts its elements.
func pluralize(args ...any) (string, error) {
	singular, plural := "", "s"
	switch len(args) {
	case 1:
	case 2:
		suffixes, ok := args[0].(string)
		if !ok {
			return "", fmt.Errorf("pluralize: suffix must be a string, not %T", args[0])
		}
		parts := strings.Split(suffixes, ",")
		switch len(parts) {
		case 1:
			plural = parts[0]
		case 2:
			singular, plural = parts[0], parts[1]
		default:
			return "", fmt.Errorf("pluralize: want \"plural\" or \"singular,plural\", got %q", suffixes)
		}
	default:
		return "", fmt.Errorf("pluralize: want 1 or 2 arguments, got %d", len(args))
	}
	one, ok := isOne(args[len(args)-1])
	if !ok {
		return "", nil // Django renders nothing for what it cannot count
	}
	if one {
		return singular, nil
	}
	return plural, nil
}

// linebreaksbr escapes v for HTML, then turns each line break into <br>.
// v that is already template.HTML is trusted and not escaped again.
func linebreaksbr(v any) template.HTML {
	var s string
	if h, ok := v.(template.HTML); ok {
		s = string(h)
	} else {
		s = template.HTMLEscapeString(toString(v))
	}
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	return template.HTML(strings.ReplaceAll(s, "\n", "<br>"))
}

// yesno maps true, false and nil to words: {{.B | yesno}} gives "yes", "no"
// or "maybe"; {{.B | yesno "on,off"}} gives "on" or "off" (nil is "off").
func yesno(args ...any) (string, error) {
	mapping := "yes,no,maybe"
	switch len(args) {
	case 1:
	case 2:
		m, ok := args[0].(string)
		if !ok {
			return "", fmt.Errorf("yesno: mapping must be a string, not %T", args[0])
		}
		mapping = m
	default:
		return "", fmt.Errorf("yesno: want 1 or 2 arguments, got %d", len(args))
	}
	words := strings.Split(mapping, ",")
	if len(words) < 2 || len(words) > 3 {
		return "", fmt.Errorf("yesno: want \"yes,no\" or \"yes,no,maybe\", got %q", mapping)
	}
	empty, isNil := isEmpty(args[len(args)-1])
	switch {
	case isNil && len(words) == 3:
		return words[2], nil
	case empty:
		return words[1], nil
	}
	return words[0], nil
}

// length is the number of runes of a string, or of elements of a slice,
// array or map; 0 for nil and for anything else.
func length(v any) int {
	switch v := v.(type) {
	case nil:
		return 0
	case string:
		return utf8.RuneCountInString(v)
	case template.HTML:
		return utf8.RuneCountInString(string(v))
	case []any:
		return len(v)
	case []string:
		return len(v)
	case map[string]any:
		return len(v)
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.String:
		return utf8.RuneCountInString(rv.String())
	case reflect.Slice, reflect.Array, reflect.Map, reflect.Chan:
		return rv.Len()
	case reflect.Pointer:
		if !rv.IsNil() && rv.Elem().Kind() == reflect.Array {
			return rv.Elem().Len()
		}
	}
	return 0
}

// lower, upper and title change case; their result is escaped like any text.
func lower(v any) string { return strings.ToLower(toString(v)) }
func upper(v any) string { return strings.ToUpper(toString(v)) }

// title is Django's: the first letter of each word in title case, the others
// in lower case, where a word is a run of cased letters (Python's
// str.title), except that a letter after a digit ("1st") or after an
// apostrophe that follows a lower-case letter ("they're") stays lower case.
// Unlike Python, a combining mark does not end a word.
func title(v any) string {
	s := toString(v)
	var b strings.Builder
	b.Grow(len(s))
	var prev, prev2 rune // the last two runes written
	inWord := false
	for _, r := range s {
		cased := unicode.IsUpper(r) || unicode.IsLower(r) || unicode.IsTitle(r)
		switch {
		case cased && (inWord || unicode.IsDigit(prev) || (prev == '\'' && unicode.IsLower(prev2))):
			r = unicode.ToLower(r)
		case cased:
			r = unicode.ToTitle(r)
		}
		if !unicode.Is(unicode.Mn, r) {
			inWord = cased
		}
		b.WriteRune(r)
		prev2, prev = prev, r
	}
	return b.String()
}

// isEmpty reports whether v is "false" the way Django's templates see it,
// and whether it is nil (a nil interface or nil pointer).
func isEmpty(v any) (empty, isNil bool) {
	switch v := v.(type) {
	case nil:
		return true, true
	case bool:
		return !v, false
	case string:
		return v == "", false
	case template.HTML:
		return v == "", false
	case int:
		return v == 0, false
	case int64:
		return v == 0, false
	case float64:
		return v == 0, false
	case time.Time:
		return v.IsZero(), false
	case *time.Time:
		return v == nil || v.IsZero(), v == nil
	case []any:
		return len(v) == 0, v == nil
	case []string:
		return len(v) == 0, v == nil
	case map[string]any:
		return len(v) == 0, v == nil
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Pointer, reflect.Interface:
		if rv.IsNil() {
			return true, true
		}
		return false, false
	case reflect.Slice, reflect.Map, reflect.Chan:
		return rv.Len() == 0, rv.IsNil()
	case reflect.Array, reflect.String:
		return rv.Len() == 0, false
	case reflect.Func:
		return rv.IsNil(), rv.IsNil()
	}
	return rv.IsZero(), false
}

// isOne reports whether v counts as exactly one, for pluralize; ok is false
// when v cannot be counted.
func isOne(v any) (one, ok bool) {
	switch v := v.(type) {
	case nil:
		return false, false
	case int:
		return v == 1, true
	case int64:
		return v == 1, true
	case float64:
		return v == 1, true
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		return f == 1, err == nil
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return rv.Int() == 1, true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return rv.Uint() == 1, true
	case reflect.Float32, reflect.Float64:
		return rv.Float() == 1, true
	case reflect.Slice, reflect.Array, reflect.Map, reflect.Chan:
		return rv.Len() == 1, true
	case reflect.Pointer:
		if !rv.IsNil() {
			return isOne(rv.Elem().Interface())
		}
	}
	return false, false
}

// toString renders a filter's input as text: "" for nil (also a nil
// pointer), a string type's own text (the trusted types included: the
// caller decides whether to escape), else fmt's %v.
func toString(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case template.HTML:
		return string(v)
	case []byte:
		return string(v)
	}
	rv := reflect.ValueOf(v)
	if (rv.Kind() == reflect.Pointer || rv.Kind() == reflect.Interface) && rv.IsNil() {
		return "" // before the methods below, which a nil receiver may not survive
	}
	switch v := v.(type) {
	case error:
		return v.Error()
	case fmt.Stringer:
		return v.String()
	}
	switch rv.Kind() {
	case reflect.String:
		return rv.String()
	case reflect.Pointer:
		return toString(rv.Elem().Interface())
	}
	return fmt.Sprint(v)
}

// errNotTime is wrapped by date for a value that is not a time.
var errNotTime = errors.New("not a time.Time")
