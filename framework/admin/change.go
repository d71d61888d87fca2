package admin

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/stack-web/stack/framework"
	"github.com/stack-web/stack/framework/forms"
)

// maxInlineForms bounds a submitted formset, as Django's
// DATA_UPLOAD_MAX_NUMBER_FIELDS bounds what a POST can make it allocate.
const maxInlineForms = 1000

func forbidden() error { return framework.Forbidden("you do not have permission to do that") }

// formView is the add/change page's data.
type formView struct {
	Model     *Model
	Form      *forms.Form
	Inlines   []*inlineView
	Add       bool
	ObjectID  string
	Name      string // the object's name
	Errors    bool
	CanDelete bool
	DeleteURL string
	// A view-only page (view permission, not change): see viewOnly.
	ReadOnly    bool
	View        []readonlyField
	ViewInlines []readonlyInline
	CloseURL    string
}

// inlineView is one inline formset: Django's TabularInline.
type inlineView struct {
	inline  *Inline
	Title   string
	Prefix  string
	Fields  []string
	Headers []string
	Rows    []*inlineRow
	Initial int
	// The user's permissions on the inline's model: bind ignores what
	// they do not allow (a forged form's new, changed or deleted rows).
	CanAdd, CanChange, CanDelete bool
}

type inlineRow struct {
	Index    int
	Form     *forms.Form
	ID       string
	Existing bool
	Name     string
	Delete   bool
	skip     bool           // an extra row left empty, or one deleted already
	gone     bool           // an existing row no longer the parent's
	initial  map[string]any // an existing row's values when the page was read
}

// object reads the row pk of m as a form's initial values (nil when there
// is no such row) and its name.
func (q *request) object(ctx context.Context, db queryer, m *Model, pk string) (map[string]any, string, error) {
	cols := make([]string, len(m.columns))
	for i, c := range m.columns {
		cols[i] = quote(c)
	}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	err := db.QueryRowContext(ctx, `SELECT `+strings.Join(cols, ", ")+` FROM `+quote(m.Table)+` WHERE `+quote(m.PK)+` = ?`, pk).Scan(ptrs...)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, "", nil
	}
	if err != nil {
		return nil, "", fmt.Errorf("admin: reading %s %s: %w", m.Table, pk, err)
	}
	initial := make(map[string]any, len(cols))
	for i, c := range m.columns {
		initial[c] = m.fromDB(c, vals[i])
	}
	return initial, m.objectName(initial, pk), nil
}

func (m *Model) objectName(initial map[string]any, pk string) string {
	if m.Str != "" {
		if v, ok := initial[m.Str]; ok && fmt.Sprint(v) != "" {
			return fmt.Sprint(v)
		}
	}
	return capitalize(m.Verbose) + " object (" + pk + ")"
}

type queryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// changeForm is the add page (pk "") and the change page of m.
func (q *request) changeForm(m *Model, pk string) error {
	add := pk == ""
	// View permission without change shows the object read-only, as
	// Django's change_view; saving it (a POST) needs change.
	readOnly := !add && !q.can("change", m) && q.can("view", m)
	if add && !q.can("add", m) || !add && !readOnly && !q.can("change", m) || readOnly && q.r.Method == http.MethodPost {
		return forbidden()
	}
	ctx := q.r.Context()
	fv := &formView{Model: m, Add: add, ObjectID: pk}
	var initial map[string]any
	if !add {
		var err error
		initial, fv.Name, err = q.object(ctx, q.s.db, m, pk)
		if err != nil {
			return err
		}
		if initial == nil {
			q.r.Messages().Warning(fmt.Sprintf("%s with ID “%s” doesn’t exist. Perhaps it was deleted?", capitalize(m.Verbose), pk))
			return q.r.Redirect(q.w, q.url(""))
		}
		fv.CanDelete = q.can("delete", m)
		fv.DeleteURL = q.url(m.App, m.Name, pk, "delete/")
		if readOnly {
			return q.viewOnly(m, fv, pk, initial)
		}
	}
	fv.Form = forms.New(m.fields...).SetInitial(initial)
	for i := range m.Inlines {
		in := &m.Inlines[i]
		// An inline is edited as far as its own model's permissions go, as
		// Django's InlineModelAdmin: without add, change or delete it is
		// shown read-only (with view) or not at all (its rows used to be
		// written by anyone who could change the parent).
		canAdd, canChange, canDelete := q.can("add", in.Model), q.can("change", in.Model), q.can("delete", in.Model)
		if !canAdd && !canChange && !canDelete {
			if !add && q.can("view", in.Model) {
				ri, err := q.readonlyInline(ctx, in, pk)
				if err != nil {
					return err
				}
				fv.ViewInlines = append(fv.ViewInlines, ri)
			}
			continue
		}
		iv, err := q.inlineRows(ctx, in, pk)
		if err != nil {
			return err
		}
		iv.CanAdd, iv.CanChange, iv.CanDelete = canAdd, canChange, canDelete
		if !canAdd {
			iv.Rows = iv.Rows[:iv.Initial] // no empty rows to fill
		}
		fv.Inlines = append(fv.Inlines, iv)
	}
	if q.r.Method == http.MethodPost {
		data, err := q.r.FormValues()
		if err != nil {
			return err
		}
		done, err := q.save(m, fv, data)
		if err != nil || done {
			return err
		}
		fv.Errors = true
	}
	title, last := "Change "+m.Verbose, fv.Name
	if add {
		title, last = "Add "+m.Verbose, "Add "+m.Verbose
	}
	return q.render(http.StatusOK, "change_form.html", title, q.formCrumbs(m, last), fv)
}

// inlineRows builds an inline's formset: the parent's existing rows, then
// Extra empty ones.
func (q *request) inlineRows(ctx context.Context, in *Inline, parent string) (*inlineView, error) {
	im := in.Model
	iv := &inlineView{inline: in, Title: capitalize(im.VerbosePlural), Prefix: in.prefix(), Fields: im.columns}
	for _, c := range im.columns {
		iv.Headers = append(iv.Headers, q.label(im, c))
	}
	if parent != "" {
		rows, err := q.s.db.QueryContext(ctx, `SELECT `+quote(im.PK)+` FROM `+quote(im.Table)+` WHERE `+quote(in.FK)+` = ? ORDER BY `+quote(im.PK), parent)
		if err != nil {
			return nil, fmt.Errorf("admin: reading %s of %s: %w", im.Table, parent, err)
		}
		var ids []string
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return nil, err
			}
			ids = append(ids, strconv.FormatInt(id, 10))
		}
		rows.Close()
		for _, id := range ids {
			initial, name, err := q.object(ctx, q.s.db, im, id)
			if err != nil {
				return nil, err
			}
			iv.addRow(im, initial, id, name)
		}
	}
	iv.Initial = len(iv.Rows)
	extra := in.Extra
	if extra == 0 {
		extra = 3
	}
	for range extra {
		iv.addRow(im, nil, "", "")
	}
	return iv, nil
}

func (iv *inlineView) addRow(im *Model, initial map[string]any, id, name string) {
	i := len(iv.Rows)
	f := forms.New(im.fields...).SetInitial(initial)
	f.Prefix = iv.Prefix + "-" + strconv.Itoa(i) + "-"
	iv.Rows = append(iv.Rows, &inlineRow{Index: i, Form: f, ID: id, Existing: id != "", Name: name, initial: initial})
}

// msgGoneRow is Django's message for an inline row whose object is no
// longer the parent's (deleted meanwhile, or an id made up).
const msgGoneRow = "Select a valid choice. That choice is not one of the available choices."

// bind reads the submitted formset: its existing rows are the ones the
// page was rendered with, found by their ids among the parent's rows now
// (a row another user added meanwhile is left alone, one deleted
// meanwhile is an error on its row, as in Django), the DELETE boxes, and
// the extra rows, which are skipped when left as offered.
func (iv *inlineView) bind(data framework.Values) error {
	total, err1 := strconv.Atoi(data.Get(iv.Prefix + "-TOTAL_FORMS"))
	initial, err2 := strconv.Atoi(data.Get(iv.Prefix + "-INITIAL_FORMS"))
	if err1 != nil || err2 != nil || total < 0 || total > maxInlineForms || initial < 0 || total < initial {
		return framework.BadRequest("ManagementForm data is missing or has been tampered with")
	}
	current := make(map[string]*inlineRow, iv.Initial)
	for _, row := range iv.Rows[:iv.Initial] {
		current[row.ID] = row
	}
	iv.Rows, iv.Initial = iv.Rows[:0], initial
	for i := range total {
		p := iv.Prefix + "-" + strconv.Itoa(i) + "-"
		if i >= initial {
			iv.addRow(iv.inline.Model, nil, "", "")
			continue
		}
		id := data.Get(p + "id")
		if id == "" {
			return framework.BadRequest("ManagementForm data is missing or has been tampered with")
		}
		was, ok := current[id]
		delete(current, id) // an id sent twice is gone the second time
		if ok {
			iv.addRow(iv.inline.Model, was.initial, id, was.Name)
		} else {
			iv.addRow(iv.inline.Model, nil, id, "")
			iv.Rows[i].gone = true
		}
	}
	for _, row := range iv.Rows {
		p := row.Form.Prefix
		row.Delete = row.Existing && data.Get(p+"DELETE") != ""
		if row.gone && row.Delete {
			row.Delete, row.skip = false, true // deleted already
		}
		if !row.Existing {
			blank := forms.New(iv.inline.Model.fields...)
			row.skip = true
			for _, c := range iv.Fields {
				// Left as offered: empty, or the field's initial value.
				if raw := strings.TrimSpace(data.Get(p + c)); raw != "" && raw != blank.Value(c) {
					row.skip = false
				}
			}
		}
		switch {
		case row.Existing && row.Delete && !iv.CanDelete:
			row.Delete, row.skip = false, true
		case row.Existing && !row.Delete && !iv.CanChange, !row.Existing && !iv.CanAdd:
			row.skip = true
		}
		row.Form.Bind(data)
	}
	return nil
}

// valid validates every row that will be saved.
func (iv *inlineView) valid() bool {
	ok := true
	for _, row := range iv.Rows {
		if row.skip || row.Delete {
			continue
		}
		if !row.Form.IsValid() {
			ok = false
		}
		if row.gone {
			row.Form.AddError(iv.Fields[0], msgGoneRow)
			ok = false
		}
	}
	return ok
}

// save validates the submitted page and, when it is valid, writes the
// object and its inline rows in one transaction and redirects.
func (q *request) save(m *Model, fv *formView, data framework.Values) (bool, error) {
	fv.Form.Bind(data)
	ok := fv.Form.IsValid()
	for _, iv := range fv.Inlines {
		if err := iv.bind(data); err != nil {
			return false, err
		}
		if !iv.valid() {
			ok = false
		}
	}
	if !ok {
		return false, nil
	}
	ctx := q.r.Context()
	tx, err := q.s.db.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("admin: saving %s: %w", m.Table, err)
	}
	defer tx.Rollback()
	pk, err := writeRow(ctx, tx, m, fv.Form, fv.ObjectID, "", nil)
	if err != nil {
		return false, err
	}
	for _, iv := range fv.Inlines {
		im := iv.inline.Model
		for _, row := range iv.Rows {
			switch {
			case row.Delete:
				if _, err := tx.ExecContext(ctx, `DELETE FROM `+quote(im.Table)+` WHERE `+quote(im.PK)+` = ? AND `+quote(iv.inline.FK)+` = ?`, row.ID, pk); err != nil {
					return false, fmt.Errorf("admin: deleting %s %s: %w", im.Table, row.ID, err)
				}
			case row.skip:
			default:
				if _, err := writeRow(ctx, tx, im, row.Form, row.ID, iv.inline.FK, pk); err != nil {
					return false, err
				}
			}
		}
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("admin: saving %s: %w", m.Table, err)
	}
	name, _ := fv.Form.Cleaned(m.Str).(string)
	if name == "" {
		name = capitalize(m.Verbose) + " object (" + fmt.Sprint(pk) + ")"
	}
	link := q.url(m.App, m.Name, fmt.Sprint(pk), "change/")
	verb := "changed"
	if fv.Add {
		verb = "added"
	}
	msg := fmt.Sprintf("The %s “%s” was %s successfully.", m.Verbose, name, verb)
	switch {
	case data.Has("_continue"):
		q.r.Messages().Success(msg + " You may edit it again below.")
		return true, q.r.Redirect(q.w, link)
	case data.Has("_addanother"):
		q.r.Messages().Success(msg + " You may add another " + m.Verbose + " below.")
		return true, q.r.Redirect(q.w, q.url(m.App, m.Name, "add/"))
	}
	q.r.Messages().Success(msg)
	return true, q.r.Redirect(q.w, q.url(m.App, m.Name, ""))
}

// writeRow inserts (pk "") or updates a row of m from a valid form; an
// inline row also sets its foreign key. It returns the row's primary key.
func writeRow(ctx context.Context, tx *sql.Tx, m *Model, f *forms.Form, pk string, fk string, parent any) (any, error) {
	cols := make([]string, 0, len(m.columns)+1)
	args := make([]any, 0, len(m.columns)+2)
	for _, c := range m.columns {
		cols = append(cols, quote(c))
		args = append(args, m.toDB(c, f.Cleaned(c)))
	}
	if fk != "" {
		cols = append(cols, quote(fk))
		args = append(args, parent)
	}
	if pk == "" {
		marks := strings.TrimSuffix(strings.Repeat("?, ", len(cols)), ", ")
		res, err := tx.ExecContext(ctx, `INSERT INTO `+quote(m.Table)+` (`+strings.Join(cols, ", ")+`) VALUES (`+marks+`)`, args...)
		if err != nil {
			return nil, fmt.Errorf("admin: adding a %s: %w", m.Verbose, err)
		}
		id, err := res.LastInsertId()
		if err != nil {
			return nil, fmt.Errorf("admin: adding a %s: %w", m.Verbose, err)
		}
		return id, nil
	}
	sets := make([]string, len(cols))
	for i, c := range cols {
		sets[i] = c + " = ?"
	}
	where := quote(m.PK) + " = ?"
	args = append(args, pk)
	if fk != "" {
		where += " AND " + quote(fk) + " = ?"
		args = append(args, parent)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE `+quote(m.Table)+` SET `+strings.Join(sets, ", ")+` WHERE `+where, args...); err != nil {
		return nil, fmt.Errorf("admin: changing %s %s: %w", m.Verbose, pk, err)
	}
	return pk, nil
}
