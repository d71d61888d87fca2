package admin

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/stack-web/stack/framework"
)

// deleteView asks for confirmation (listing what goes with the object),
// then deletes on POST, Django's delete_view.
func (q *request) deleteView(m *Model, pk string) error {
	if !q.can("delete", m) {
		return forbidden()
	}
	ctx := q.r.Context()
	initial, name, err := q.object(ctx, q.s.db, m, pk)
	if err != nil {
		return err
	}
	if initial == nil {
		q.r.Messages().Warning(fmt.Sprintf("%s with ID “%s” doesn’t exist. Perhaps it was deleted?", capitalize(m.Verbose), pk))
		return q.r.Redirect(q.w, q.url(""))
	}
	type related struct {
		Kind  string
		Names []string
	}
	var rel []related
	var lacking []string
	for i := range m.Inlines {
		iv, err := q.inlineRows(ctx, &m.Inlines[i], pk)
		if err != nil {
			return err
		}
		r := related{Kind: capitalize(m.Inlines[i].Model.Verbose)}
		for _, row := range iv.Rows[:iv.Initial] {
			r.Names = append(r.Names, row.Name)
		}
		if len(r.Names) > 0 {
			rel = append(rel, r)
			if !q.can("delete", m.Inlines[i].Model) {
				lacking = append(lacking, m.Inlines[i].Model.Verbose)
			}
		}
	}
	if len(lacking) > 0 {
		// The inline rows go with the object; Django's delete_view refuses
		// whoever may not delete them (perms_needed), and they went.
		return framework.Forbidden(fmt.Sprintf("Deleting the %s “%s” would result in deleting related objects, but your account doesn't have permission to delete the following types of objects: %s",
			m.Verbose, name, strings.Join(lacking, ", ")))
	}
	if q.r.Method == http.MethodPost {
		data, err := q.r.FormValues()
		if err != nil {
			return err
		}
		if data.Get("post") == "yes" {
			tx, err := q.s.db.BeginTx(ctx, nil)
			if err != nil {
				return fmt.Errorf("admin: deleting %s %s: %w", m.Table, pk, err)
			}
			defer tx.Rollback()
			for _, in := range m.Inlines {
				if _, err := tx.ExecContext(ctx, `DELETE FROM `+quote(in.Model.Table)+` WHERE `+quote(in.FK)+` = ?`, pk); err != nil {
					return fmt.Errorf("admin: deleting the %s of %s %s: %w", in.Model.VerbosePlural, m.Table, pk, err)
				}
			}
			if _, err := tx.ExecContext(ctx, `DELETE FROM `+quote(m.Table)+` WHERE `+quote(m.PK)+` = ?`, pk); err != nil {
				return fmt.Errorf("admin: deleting %s %s: %w", m.Table, pk, err)
			}
			if err := tx.Commit(); err != nil {
				return fmt.Errorf("admin: deleting %s %s: %w", m.Table, pk, err)
			}
			q.r.Messages().Success(fmt.Sprintf("The %s “%s” was deleted successfully.", m.Verbose, name))
			return q.r.Redirect(q.w, q.url(m.App, m.Name, ""))
		}
	}
	crumbs := []crumb{{q.url(""), "Home"}, {q.url(m.App, ""), capitalize(m.App)},
		{q.url(m.App, m.Name, ""), capitalize(m.VerbosePlural)}, {q.url(m.App, m.Name, pk, "change/"), name}, {"", "Delete"}}
	return q.render(http.StatusOK, "delete_confirmation.html", "Are you sure?", crumbs, map[string]any{
		"Model": m, "Name": name, "Related": rel, "CancelURL": q.url(m.App, m.Name, pk, "change/"),
	})
}
