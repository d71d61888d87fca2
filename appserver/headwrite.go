package appserver

import (
	"bufio"
	"net/http"
	"slices"
	"strings"
)

// writeHeader writes h as http.Header.Write does (fields sorted by name,
// names that are not tokens dropped, values trimmed of spaces and tabs at
// either end), without its sorter and its string replacer: the response
// head's fields, a handful, sorted on the stack. Values holding CR, LF or
// NUL were dropped before (dropBadValues).
func writeHeader(out *bufio.Writer, h http.Header) {
	var buf [16]string
	keys := buf[:0]
	for k := range h {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if !validFieldName(k) {
			continue
		}
		for _, v := range h[k] {
			out.WriteString(k)
			out.WriteString(": ")
			out.WriteString(strings.Trim(v, " \t"))
			out.WriteString("\r\n")
		}
	}
}

// validFieldName reports whether name is an RFC 9110 token.
func validFieldName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c >= 0x80 || !isTokenChar[c] {
			return false
		}
	}
	return true
}

var isTokenChar = func() (t [128]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-'a'+'A'] = true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()
