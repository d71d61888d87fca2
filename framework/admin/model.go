package admin

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/stack-web/stack/framework/forms"
	"github.com/stack-web/stack/framework/templates"
)

// Model registers one database/sql table with the admin, Django's
// ModelAdmin: its form is built from the table's columns (see
// forms.FromColumns), then adjusted by Fields.
type Model struct {
	App           string // the app label in URLs: "polls"
	Name          string // the model name in URLs: "question"
	Table         string // the table; "" means Name
	PK            string // the primary key column; "" means "id"
	Verbose       string // "question"; "" means Name
	VerbosePlural string // "questions"; "" means Verbose + "s"
	// Str is the column that names an object ("question_text"), Django's
	// __str__; "" means "<Verbose> object (<pk>)".
	Str string
	// Fields adjust the fields built from the columns, matched by Name:
	// a label, a widget, bounds, Required (the driver may not say NOT
	// NULL). A field named here that is not a column is an error.
	Fields []forms.Field
	// Exclude leaves columns out of the form (besides the primary key and
	// an inline's foreign key, always left out).
	Exclude []string
	// UnixTime lists INTEGER columns that hold a time as Unix seconds: they
	// are edited as DateTime fields.
	UnixTime []string
	// ListDisplay are the list page's columns: column names or keys of
	// Computed. Empty means Str (or the primary key).
	ListDisplay []string
	// Computed are extra list columns computed in SQL, by name.
	Computed map[string]Computed
	// SearchFields are the columns the search box matches (LIKE, every
	// word in one of them), Django's search_fields.
	SearchFields []string
	// ListFilter are columns with a filter in the sidebar: a date range
	// for time columns, the distinct values for the others.
	ListFilter []string
	// Ordering is the list's ORDER BY ("pub_date DESC"); "" means by the
	// primary key, newest first.
	Ordering string
	// PerPage is the list's page size, 100 by default as Django's.
	PerPage int
	// Inlines are related tables edited on this model's page, Django's
	// TabularInline.
	Inlines []Inline

	fields  []forms.Field // the form's fields, in column order
	columns []string      // their columns
}

// Computed is a list column computed in SQL over the model's table.
type Computed struct {
	Label string
	SQL   string // an expression; the table's columns are qualified by its name
	Bool  bool   // shown as yes/no
}

// Inline is a table edited in rows on its parent's page, Django's
// TabularInline: Model describes it (its Fields, UnixTime, Verbose) and FK
// is its column that holds the parent's primary key.
type Inline struct {
	Model *Model
	FK    string
	Extra int // empty rows offered for new objects, 3 by default as Django's
}

// prefix is the inline's formset prefix, Django's "<model>_set".
func (in *Inline) prefix() string { return in.Model.Name + "_set" }

// setup fills the defaults and builds the fields from the table's columns.
func (m *Model) setup(ctx context.Context, db *sql.DB, skip ...string) error {
	if m.App == "" || m.Name == "" {
		return fmt.Errorf("admin: a model needs App and Name")
	}
	if m.Table == "" {
		m.Table = m.Name
	}
	if m.PK == "" {
		m.PK = "id"
	}
	if m.Verbose == "" {
		m.Verbose = strings.ReplaceAll(m.Name, "_", " ")
	}
	if m.VerbosePlural == "" {
		m.VerbosePlural = m.Verbose + "s"
	}
	if m.PerPage <= 0 {
		m.PerPage = 100
	}
	cols, err := forms.TableColumns(ctx, db, m.Table)
	if err != nil {
		return fmt.Errorf("admin: registering %s.%s: %w", m.App, m.Name, err)
	}
	fields := forms.FromColumns(cols, append(append([]string{m.PK}, skip...), m.Exclude...)...)
	for i := range fields {
		if slices.Contains(m.UnixTime, fields[i].Name) {
			fields[i].Kind = forms.DateTime
		}
	}
	for _, o := range m.Fields {
		i := slices.IndexFunc(fields, func(f forms.Field) bool { return f.Name == o.Name })
		if i < 0 {
			return fmt.Errorf("admin: %s.%s: field %q is not a column of %s", m.App, m.Name, o.Name, m.Table)
		}
		fields[i] = o
	}
	m.fields = fields
	m.columns = make([]string, len(fields))
	for i, f := range fields {
		m.columns[i] = f.Name
	}
	if len(m.ListDisplay) == 0 {
		m.ListDisplay = []string{firstOf(m.Str, m.PK)}
	}
	for _, c := range m.ListDisplay {
		if _, ok := m.Computed[c]; !ok && !slices.Contains(m.columns, c) && c != m.PK {
			return fmt.Errorf("admin: %s.%s: list_display %q is neither a column nor computed", m.App, m.Name, c)
		}
	}
	for _, in := range m.Inlines {
		if in.Model == nil || in.FK == "" {
			return fmt.Errorf("admin: %s.%s: an inline needs a Model and an FK", m.App, m.Name)
		}
		if in.Model.App == "" {
			in.Model.App = m.App
		}
		if err := in.Model.setup(ctx, db, in.FK); err != nil {
			return err
		}
	}
	return nil
}

func firstOf(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// isTime reports whether column c is edited as a time.
func (m *Model) isTime(c string) bool {
	i := slices.Index(m.columns, c)
	return i >= 0 && m.fields[i].Kind == forms.DateTime
}

// toDB converts a cleaned form value for column c.
func (m *Model) toDB(c string, v any) any {
	switch x := v.(type) {
	case time.Time:
		if slices.Contains(m.UnixTime, c) {
			return x.Unix()
		}
		return x.UTC().Format(time.RFC3339)
	case bool:
		if x {
			return 1
		}
		return 0
	}
	return v
}

// fromDB converts a value read from column c for a form's initial value.
func (m *Model) fromDB(c string, v any) any {
	if b, ok := v.([]byte); ok {
		v = string(b)
	}
	i := slices.Index(m.columns, c)
	if i < 0 {
		return v
	}
	switch m.fields[i].Kind {
	case forms.DateTime:
		switch x := v.(type) {
		case int64:
			return time.Unix(x, 0)
		case string:
			for _, l := range forms.DateTimeLayouts {
				if t, err := time.Parse(l, x); err == nil {
					return t
				}
			}
		}
	case forms.Bool:
		n, _ := v.(int64)
		return n != 0 || v == true
	}
	return v
}

// display formats a value for the list page.
func (m *Model) display(c string, v any) string {
	v = m.fromDB(c, v)
	switch x := v.(type) {
	case nil:
		return "-"
	case time.Time:
		// Django's DATETIME_FORMAT: "p.m." is no Go layout element, so a
		// Go layout printed it for the morning too (and "Sep" for "Sept.").
		return templates.FormatDate(x, "N j, Y, P")
	case bool:
		if x {
			return "yes"
		}
		return "no"
	}
	return fmt.Sprint(v)
}

// quote quotes an identifier for SQL (column and table names come from
// the registration, never from the request, but may be keywords).
func quote(id string) string { return `"` + strings.ReplaceAll(id, `"`, `""`) + `"` }
