package templates

import (
	"errors"
	"fmt"
	"io/fs"
	"text/template/parse"
)

// CheckSyntax parses every template file of src the way New would, without
// the functions the app will register, and reports the files that New would
// refuse for their syntax: an unclosed action, a stray {{end}}, an extends
// that is not the first thing in its file. It lets a configuration check
// catch a broken template before the app is started. What only the whole
// app knows (its functions, the templates its apps embed, so a parent named
// by extends) is left to New.
func CheckSyntax(src fs.FS) error {
	entries, _, err := scan([]fs.FS{src}, []string{".html", ".txt"})
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range entries {
		text, err := fs.ReadFile(src, e.name)
		if err != nil {
			errs = append(errs, fmt.Errorf("templates: read %s: %w", e.name, err))
			continue
		}
		if err := checkFile(e.name, string(text)); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// checkFile parses one file as parseFile does, but with SkipFuncCheck, so
// that a call to a function only the app defines is not an error here.
func checkFile(name, text string) error {
	t := parse.New(name)
	t.Mode = parse.SkipFuncCheck
	trees := make(map[string]*parse.Tree)
	if _, err := t.Parse(text, "", "", trees); err != nil {
		return parseError(name, err)
	}
	f := &file{name: name, trees: trees}
	if f.trees[name] == nil || f.trees[name].Root == nil {
		return nil // an empty file renders nothing
	}
	return f.findExtends()
}
