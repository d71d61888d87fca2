package templates

import (
	"errors"
	"fmt"
	"html/template"
	"strconv"
	"strings"
	"text/template/parse"
)

// ErrNotFound is returned (wrapped) by [Set.Render] for a name that no source holds.
var ErrNotFound = errors.New("template not found")

// Error reports a template that cannot be parsed, assembled into a page or
// escaped. Its message has the form
//
//	templates: polls/index.html:12: function "frobnicate" not defined
//
// so that an editor or terminal can jump to the spot.
type Error struct {
	Name        string // the template file, as a slash path relative to its source
	Line        int    // 1-based line in Name; 0 when unknown
	Description string // what is wrong, without the location
	Err         error  // the underlying error from html/template, if any
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("templates: %s:%d: %s", e.Name, e.Line, e.Description)
	}
	return fmt.Sprintf("templates: %s: %s", e.Name, e.Description)
}

// Unwrap returns the underlying html/template or text/template error.
func (e *Error) Unwrap() error { return e.Err }

// nodeError builds an Error located at node n, which belongs to tree t (or,
// for a copied node, to the tree it was first parsed in).
func nodeError(t *parse.Tree, n parse.Node, format string, args ...any) *Error {
	loc, _ := t.ErrorContext(n)
	name, line := splitLocation(loc)
	return &Error{Name: name, Line: line, Description: fmt.Sprintf(format, args...)}
}

// splitLocation splits parse's "name:line:col" location.
func splitLocation(loc string) (name string, line int) {
	i := strings.LastIndexByte(loc, ':') // drop the column
	if i < 0 {
		return loc, 0
	}
	loc = loc[:i]
	j := strings.LastIndexByte(loc, ':')
	if j < 0 {
		return loc, 0
	}
	n, err := strconv.Atoi(loc[j+1:])
	if err != nil {
		return loc, 0
	}
	return loc[:j], n
}

// parseError turns a text/template parse error, whose message has the form
// "template: NAME:LINE: description", into an Error for file name.
func parseError(name string, err error) *Error {
	msg := strings.TrimPrefix(err.Error(), "template: ")
	e := &Error{Name: name, Description: msg, Err: err}
	rest, ok := strings.CutPrefix(msg, name+":")
	if !ok {
		return e
	}
	digits, desc, ok := strings.Cut(rest, ": ")
	if n, convErr := strconv.Atoi(digits); ok && convErr == nil {
		e.Line, e.Description = n, desc
	}
	return e
}

// htmlError is html/template's escaping error; aliased because this file
// also needs text/template/parse.
type htmlError = template.Error

// escapeError turns html/template's escaping error (which it reports only on
// the first execution) into an Error that names the template file.
func escapeError(page string, err error) *Error {
	var he *htmlError
	if !errors.As(err, &he) {
		return &Error{Name: page, Description: err.Error(), Err: err}
	}
	e := &Error{Name: page, Line: he.Line, Description: he.Description, Err: err}
	if he.Node != nil {
		loc, _ := (*parse.Tree)(nil).ErrorContext(he.Node)
		e.Name, e.Line = splitLocation(loc)
	}
	return e
}
