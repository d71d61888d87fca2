package appserver

import (
	"bufio"
	"net/http"
	"slices"
	"strings"

	"golang.org/x/net/http/httpguts"
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
		if !httpguts.ValidHeaderFieldName(k) { // http.Header.Write's own check
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
