package urlpath

import (
	"fmt"
	"strconv"
)

// Converter turns one captured piece of a URL into a typed value and back,
// as a Django path converter does (see Django's register_converter). Custom
// converters are registered by name in the framework's Config.Converters and used as
// <name:param> in patterns.
//
// Match plays the role of the converter's regex: it reports whether s, the
// whole captured text (percent-decoded, never empty unless the converter
// accepts it), belongs to the converter. It runs on every request that gets
// this far into the pattern, so it should be a simple scan, not a regexp.
// Unless the converter also implements [SegmentConverter], Match may be
// offered text containing "/".
//
// ToValue converts matched text to the value the view receives. An error
// means "no match": dispatch goes on to the next pattern, as a ValueError in
// Django's to_python does.
//
// ToURL converts a value given to Reverse into URL text (not yet
// percent-encoded). An error, or text that Match rejects, makes Reverse fail
// with ErrNoReverseMatch.
type Converter interface {
	Match(s string) bool
	ToValue(s string) (any, error)
	ToURL(v any) (string, error)
}

// SegmentConverter is a Converter that never matches a "/": dispatch then
// only offers it one path segment, which makes matching cheaper. Every
// built-in converter except path is one.
type SegmentConverter interface {
	Converter
	SegmentOnly()
}

// kind lets the matcher run the built-in converters without an
// interface call and store their values without boxing.
type kind uint8

const (
	kindCustom kind = iota
	kindStr
	kindInt
	kindSlug
	kindUUID
	kindPath
)

// builtinConverters are Django's five.
var builtinConverters = map[string]kind{
	"str":  kindStr,
	"int":  kindInt,
	"slug": kindSlug,
	"uuid": kindUUID,
	"path": kindPath,
}

// matchKind runs a built-in converter's "regex" on s.
func matchKind(k kind, s string) bool {
	switch k {
	case kindStr: // [^/]+
		if s == "" {
			return false
		}
		for i := 0; i < len(s); i++ {
			if s[i] == '/' {
				return false
			}
		}
		return true
	case kindInt: // [0-9]+
		return isDigits(s)
	case kindSlug: // [-a-zA-Z0-9_]+
		if s == "" {
			return false
		}
		for i := 0; i < len(s); i++ {
			if !slugByte[s[i]] {
				return false
			}
		}
		return true
	case kindUUID: // [0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}
		if len(s) != 36 {
			return false
		}
		for i := 0; i < 36; i++ {
			c := s[i]
			switch i {
			case 8, 13, 18, 23:
				if c != '-' {
					return false
				}
			default:
				if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
					return false
				}
			}
		}
		return true
	case kindPath: // .+
		return s != ""
	}
	return false
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// slugByte is the slug converter's character class.
var slugByte = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-'a'+'A'] = true
	}
	t['-'], t['_'] = true, true
	return t
}()

// kindToURL converts a Reverse argument for a built-in converter. int takes
// any Go integer (or a string of digits); the others take a string, a
// fmt.Stringer or an integer, as Django's str(value) would.
func kindToURL(k kind, v any) (string, error) {
	s, ok := "", false
	switch x := v.(type) {
	case string:
		s, ok = x, true
	case int:
		s, ok = strconv.Itoa(x), true
	case int64:
		s, ok = strconv.FormatInt(x, 10), true
	case int32:
		s, ok = strconv.FormatInt(int64(x), 10), true
	case int16:
		s, ok = strconv.FormatInt(int64(x), 10), true
	case int8:
		s, ok = strconv.FormatInt(int64(x), 10), true
	case uint:
		s, ok = strconv.FormatUint(uint64(x), 10), true
	case uint64:
		s, ok = strconv.FormatUint(x, 10), true
	case uint32:
		s, ok = strconv.FormatUint(uint64(x), 10), true
	case uint16:
		s, ok = strconv.FormatUint(uint64(x), 10), true
	case uint8:
		s, ok = strconv.FormatUint(uint64(x), 10), true
	case fmt.Stringer:
		if k != kindInt {
			s, ok = x.String(), true
		}
	}
	if !ok {
		return "", fmt.Errorf("a %T cannot fill a <%s:...> parameter", v, kindName(k))
	}
	if !matchKind(k, s) {
		return "", fmt.Errorf("%q does not match <%s:...>", s, kindName(k))
	}
	return s, nil
}

func kindName(k kind) string {
	for name, kk := range builtinConverters {
		if kk == k {
			return name
		}
	}
	return "custom"
}
