package admin

import (
	"context"
	"fmt"
	"net/http"
)

// readonlyField is one field of a view-only change page: its value as
// text, Django's AdminReadonlyField.
type readonlyField struct {
	Name, Label, Value, HelpText string
}

// readonlyInline is an inline's rows on a view-only change page: the
// parent's existing rows only, no empty ones, no delete boxes.
type readonlyInline struct {
	Title   string
	Prefix  string
	Headers []string
	Rows    [][]string
}

// viewOnly shows the object of m (read as initial) to a user who may view
// m but not change it, as Django's change_view does since 2.1: every field
// as text, the inlines the user may view as tables, no form to submit
// ("Close" goes back to the list), and the Delete link if they may delete.
// A POST never gets here: changeForm refuses it with 403.
func (q *request) viewOnly(m *Model, fv *formView, pk string, initial map[string]any) error {
	fv.ReadOnly = true
	fv.CloseURL = q.url(m.App, m.Name, "")
	for i := range m.fields {
		f := &m.fields[i]
		fv.View = append(fv.View, readonlyField{Name: f.Name, Label: f.DisplayLabel(),
			Value: m.readonlyValue(f.Name, initial[f.Name]), HelpText: f.HelpText})
	}
	ctx := q.r.Context()
	for i := range m.Inlines {
		in := &m.Inlines[i]
		if !q.can("view", in.Model) && !q.can("change", in.Model) {
			continue // Django leaves out an inline its user may not view
		}
		ri, err := q.readonlyInline(ctx, in, pk)
		if err != nil {
			return err
		}
		fv.ViewInlines = append(fv.ViewInlines, ri)
	}
	return q.render(http.StatusOK, "change_form.html", "View "+m.Verbose, q.formCrumbs(m, fv.Name), fv)
}

// readonlyInline is the rows of inline in of the object pk as a table,
// for a user who may view its model but not add, change or delete.
func (q *request) readonlyInline(ctx context.Context, in *Inline, pk string) (readonlyInline, error) {
	iv, err := q.inlineRows(ctx, in, pk)
	if err != nil {
		return readonlyInline{}, err
	}
	ri := readonlyInline{Title: iv.Title, Prefix: iv.Prefix, Headers: iv.Headers}
	for _, row := range iv.Rows[:iv.Initial] {
		cells := make([]string, len(iv.Fields))
		for j, c := range iv.Fields {
			cells[j] = in.Model.readonlyValue(c, row.initial[c])
		}
		ri.Rows = append(ri.Rows, cells)
	}
	return ri, nil
}

// readonlyValue shows column c's value v (as read for a form) on a
// view-only page, Django's display_for_field: a choice by its label, a
// missing value as "-", times and booleans as the list page shows them.
func (m *Model) readonlyValue(c string, v any) string {
	for i := range m.fields {
		if m.fields[i].Name != c || len(m.fields[i].Choices) == 0 || v == nil {
			continue
		}
		s := fmt.Sprint(v)
		for _, o := range m.fields[i].Choices {
			if o.Value == s {
				return o.Label
			}
		}
	}
	return m.display(c, v)
}

// formCrumbs are the breadcrumbs of an add, change or view page whose
// last crumb is last.
func (q *request) formCrumbs(m *Model, last string) []crumb {
	return []crumb{{q.url(""), "Home"}, {q.url(m.App, ""), capitalize(m.App)},
		{q.url(m.App, m.Name, ""), capitalize(m.VerbosePlural)}, {"", last}}
}
