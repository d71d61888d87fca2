package admin

import (
	"database/sql"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/stack-web/stack/framework"
)

// The list page's query parameters, Django's ChangeList's.
const (
	searchVar = "q"
	pageVar   = "p"
)

// listView is the change list page's data.
type listView struct {
	Model     *Model
	Name      string // "questions"
	Headers   []string
	Rows      []listRow
	Count     int // matching rows
	Total     int // all rows
	Search    string
	HasSearch bool
	Filters   []filterView
	Pages     []pageLink
	AddURL    string
	ClearURL  string
	Filtered  bool
}

type listRow struct {
	URL   string
	Cells []string
}

type filterView struct {
	Title   string
	Choices []filterChoice
}

type filterChoice struct {
	Label    string
	URL      string
	Selected bool
}

type pageLink struct {
	Label   string
	URL     string
	Current bool
}

// changeList shows m's rows: the ListDisplay columns, the search box, the
// filters and the pages.
func (q *request) changeList(m *Model) error {
	if !q.can("view", m) && !q.can("change", m) {
		return forbidden()
	}
	params := q.r.Query()
	where, args := q.listWhere(m, params)
	ctx := q.r.Context()
	lv := &listView{Model: m, Name: capitalize(m.VerbosePlural), Search: params.Get(searchVar), HasSearch: len(m.SearchFields) > 0}
	if q.can("add", m) {
		lv.AddURL = q.url(m.App, m.Name, "add/")
	}
	if err := q.s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+quote(m.Table)+where, args...).Scan(&lv.Count); err != nil {
		return fmt.Errorf("admin: counting %s: %w", m.Table, err)
	}
	if err := q.s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+quote(m.Table)).Scan(&lv.Total); err != nil {
		return fmt.Errorf("admin: counting %s: %w", m.Table, err)
	}
	pages := max(1, (lv.Count+m.PerPage-1)/m.PerPage)
	pg, _ := strconv.Atoi(params.Get(pageVar))
	if pg < 1 || pg > pages {
		if params.Has(pageVar) {
			to := q.url(m.App, m.Name, "")
			if rest := withParam(params, pageVar, ""); rest != "" {
				to += "?" + rest
			}
			return q.r.Redirect(q.w, to)
		}
		pg = 1
	}
	sel := []string{quote(m.Table) + "." + quote(m.PK)}
	for _, c := range m.ListDisplay {
		if cp, ok := m.Computed[c]; ok {
			sel = append(sel, "("+cp.SQL+")")
			lv.Headers = append(lv.Headers, firstOf(cp.Label, c))
		} else {
			sel = append(sel, quote(m.Table)+"."+quote(c))
			lv.Headers = append(lv.Headers, q.label(m, c))
		}
	}
	order := m.Ordering
	if order == "" {
		order = quote(m.PK) + " DESC"
	}
	rows, err := q.s.db.QueryContext(ctx, `SELECT `+strings.Join(sel, ", ")+` FROM `+quote(m.Table)+where+
		` ORDER BY `+order+` LIMIT ? OFFSET ?`, append(args, m.PerPage, (pg-1)*m.PerPage)...)
	if err != nil {
		return fmt.Errorf("admin: listing %s: %w", m.Table, err)
	}
	defer rows.Close()
	for rows.Next() {
		vals := make([]any, len(sel))
		ptrs := make([]any, len(sel))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return fmt.Errorf("admin: listing %s: %w", m.Table, err)
		}
		row := listRow{URL: q.url(m.App, m.Name, fmt.Sprint(vals[0]), "change/")}
		for i, c := range m.ListDisplay {
			v := vals[i+1]
			if cp, ok := m.Computed[c]; ok && cp.Bool {
				n, _ := v.(int64)
				row.Cells = append(row.Cells, map[bool]string{true: "yes", false: "no"}[n != 0])
				continue
			}
			row.Cells = append(row.Cells, m.display(c, v))
		}
		lv.Rows = append(lv.Rows, row)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("admin: listing %s: %w", m.Table, err)
	}
	lv.Filters, err = q.filters(m, params)
	if err != nil {
		return err
	}
	lv.Filtered = len(params) > 0 && !(len(params) == 1 && params.Has(pageVar))
	lv.ClearURL = "?"
	if pages > 1 {
		for i := 1; i <= pages; i++ {
			lv.Pages = append(lv.Pages, pageLink{Label: strconv.Itoa(i), URL: "?" + withParam(params, pageVar, strconv.Itoa(i)), Current: i == pg})
		}
	}
	crumbs := []crumb{{q.url(""), "Home"}, {q.url(m.App, ""), capitalize(m.App)}, {"", capitalize(m.VerbosePlural)}}
	title := "Select " + m.Verbose + " to change"
	if !q.can("change", m) {
		title = "Select " + m.Verbose + " to view" // Django's, for view-only users
	}
	return q.render(http.StatusOK, "change_list.html", title, crumbs, lv)
}

// label is a column's label: its field's, or the name made readable.
func (q *request) label(m *Model, c string) string {
	for i := range m.fields {
		if m.fields[i].Name == c {
			return m.fields[i].DisplayLabel()
		}
	}
	return capitalize(strings.ReplaceAll(c, "_", " "))
}

// listWhere builds the WHERE clause of the search and filters in params.
func (q *request) listWhere(m *Model, params framework.Values) (string, []any) {
	var conds []string
	var args []any
	if s := strings.TrimSpace(params.Get(searchVar)); s != "" && len(m.SearchFields) > 0 {
		// Django: every word must be in one of the search fields.
		for _, word := range strings.Fields(s) {
			var ors []string
			for _, f := range m.SearchFields {
				ors = append(ors, quote(f)+` LIKE ? ESCAPE '\'`)
				args = append(args, "%"+likeEscape(word)+"%")
			}
			conds = append(conds, "("+strings.Join(ors, " OR ")+")")
		}
	}
	for _, f := range m.ListFilter {
		if m.isTime(f) {
			for _, op := range []string{"gte", "lt"} {
				v := params.Get(f + "__" + op)
				t, err := time.ParseInLocation("2006-01-02", v, time.Local)
				if v == "" || err != nil {
					continue
				}
				sym := map[string]string{"gte": ">=", "lt": "<"}[op]
				conds = append(conds, quote(f)+" "+sym+" ?")
				args = append(args, m.toDB(f, t))
			}
			continue
		}
		if params.Has(f + "__exact") {
			// The last value, as the filter's selected choice (Django's
			// get_last_value_from_parameters).
			conds = append(conds, quote(f)+" = ?")
			args = append(args, params.Get(f+"__exact"))
		}
	}
	if len(conds) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args
}

func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// filters builds the sidebar: Django's DateFieldListFilter for times
// (Any date, Today, Past 7 days, This month, This year), the distinct
// values (at most 50) for other columns.
func (q *request) filters(m *Model, params framework.Values) ([]filterView, error) {
	var out []filterView
	for _, f := range m.ListFilter {
		fv := filterView{Title: q.label(m, f)}
		if m.isTime(f) {
			now := time.Now()
			today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.Local)
			day := func(t time.Time) string { return t.Format("2006-01-02") }
			for _, c := range []struct {
				label   string
				gte, lt string
			}{
				{"Any date", "", ""},
				{"Today", day(today), day(today.AddDate(0, 0, 1))},
				{"Past 7 days", day(today.AddDate(0, 0, -7)), day(today.AddDate(0, 0, 1))},
				{"This month", day(today.AddDate(0, 0, 1-today.Day())), day(today.AddDate(0, 1, 1-today.Day()))},
				{"This year", day(time.Date(now.Year(), 1, 1, 0, 0, 0, 0, time.Local)), day(time.Date(now.Year()+1, 1, 1, 0, 0, 0, 0, time.Local))},
			} {
				p := cloneValues(params)
				p.Del(pageVar)
				setOrDel(p, f+"__gte", c.gte)
				setOrDel(p, f+"__lt", c.lt)
				fv.Choices = append(fv.Choices, filterChoice{Label: c.label, URL: "?" + p.Encode(),
					Selected: params.Get(f+"__gte") == c.gte && params.Get(f+"__lt") == c.lt})
			}
			out = append(out, fv)
			continue
		}
		rows, err := q.s.db.QueryContext(q.r.Context(), `SELECT DISTINCT `+quote(f)+` FROM `+quote(m.Table)+` ORDER BY 1 LIMIT 50`)
		if err != nil {
			return nil, fmt.Errorf("admin: filter values of %s.%s: %w", m.Table, f, err)
		}
		p := cloneValues(params)
		p.Del(pageVar)
		p.Del(f + "__exact")
		fv.Choices = append(fv.Choices, filterChoice{Label: "All", URL: "?" + p.Encode(), Selected: !params.Has(f + "__exact")})
		for rows.Next() {
			var v sql.NullString
			if err := rows.Scan(&v); err != nil {
				rows.Close()
				return nil, err
			}
			p := cloneValues(params)
			p.Del(pageVar)
			p.Set(f+"__exact", v.String)
			fv.Choices = append(fv.Choices, filterChoice{Label: m.display(f, v.String), URL: "?" + p.Encode(),
				Selected: params.Has(f+"__exact") && params.Get(f+"__exact") == v.String})
		}
		rows.Close()
		out = append(out, fv)
	}
	return out, nil
}

func cloneValues(v framework.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = slices.Clone(vs)
	}
	return out
}

func setOrDel(v url.Values, k, val string) {
	if val == "" {
		v.Del(k)
	} else {
		v.Set(k, val)
	}
}

// withParam is params with k set to v ("" removes it), encoded.
func withParam(params framework.Values, k, v string) string {
	p := cloneValues(params)
	setOrDel(p, k, v)
	return p.Encode()
}
