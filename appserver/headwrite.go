package appserver

import (
	"bufio"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/net/http/httpguts"
)

// writeHeader writes h as http.Header.Write does (fields sorted by name,
// names that are not tokens dropped, values trimmed of spaces and tabs at
// either end), without its sorter and its string replacer: the response
// head's fields, a handful, sorted on the stack. Values holding CR, LF or
// NUL were dropped before (dropBadValues).
func writeHeader(out *bufio.Writer, h http.Header) { writeFields(out, h, nil) }

// addedField is a field the server adds to the handler's header (framing,
// a sniffed Content-Type) without putting it in the handler's map. Its
// name is not in the map.
type addedField struct {
	name  string
	value string // when num < 0
	num   int64  // a decimal value (Content-Length) when >= 0
}

// writeFields is writeHeader with the fields of added among h's, in
// order.
func writeFields(out *bufio.Writer, h http.Header, added []addedField) {
	var buf [16]string
	keys := buf[:0]
	for k := range h {
		keys = append(keys, k)
	}
	for _, f := range added {
		keys = append(keys, f.name)
	}
	slices.Sort(keys)
	for _, k := range keys {
		vs, ok := h[k]
		if !ok {
			for _, f := range added {
				if f.name == k {
					writeAdded(out, f)
					break
				}
			}
			continue
		}
		if !httpguts.ValidHeaderFieldName(k) { // http.Header.Write's own check
			continue
		}
		for _, v := range vs {
			out.WriteString(k)
			out.WriteString(": ")
			out.WriteString(strings.Trim(v, " \t"))
			out.WriteString("\r\n")
		}
	}
}

func writeAdded(out *bufio.Writer, f addedField) {
	out.WriteString(f.name)
	out.WriteString(": ")
	if f.num >= 0 {
		out.Write(strconv.AppendInt(out.AvailableBuffer(), f.num, 10))
	} else {
		out.WriteString(f.value)
	}
	out.WriteString("\r\n")
}
