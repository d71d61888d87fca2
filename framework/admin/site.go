// Package admin is Django's admin for the framework: a site at /admin/
// where staff users list, search, filter, add, change and delete the rows
// of registered database/sql tables, with related rows edited inline. It
// is an http.Handler mounted in the app's URLconf, so it runs under the
// app's sessions, CSRF and messages; it needs no JavaScript.
//
//	site := admin.New(db, users, admin.Options{Title: "Polls administration"})
//	site.Register(ctx, &admin.Model{App: "polls", Name: "question", Str: "question_text", ...})
//	urls = append(urls, site.Pattern()) // admin/
//
// The URLs and field names are Django's: /admin/login/ (username,
// password), /admin/polls/question/, /admin/polls/question/add/,
// /admin/polls/question/5/change/, /admin/polls/question/5/delete/.
package admin

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/stack-web/stack/framework"
	"github.com/stack-web/stack/framework/auth"
	"github.com/stack-web/stack/framework/forms"
)

//go:embed templates
var templateFS embed.FS

// Options configure a Site.
type Options struct {
	Title   string // the header and page titles; "Site administration" by default
	SiteURL string // "View site" link; "/" by default
	Logger  *slog.Logger
}

// Site is an admin site: the registered models and the pages over them.
type Site struct {
	db      *sql.DB
	users   *auth.Auth
	title   string
	siteURL string
	logger  *slog.Logger
	models  []*Model
	// pages are parsed on the first admin page served, not in New:
	// every worker process builds the site at its start, and most never
	// serve the admin (the parse was a third of a polls worker's heap
	// growth in building its app, and 1-2 ms of its start). They are
	// embedded, so the parse cannot fail on a machine where it did not
	// fail in the tests (TestAdminPagesParse).
	pagesOnce sync.Once
	pages     map[string]*template.Template
}

// pageNames are the admin's pages, each base.html with its own blocks.
var pageNames = []string{"login.html", "logged_out.html", "index.html", "change_list.html", "change_form.html", "delete_confirmation.html"}

// page returns the parsed page name.
func (s *Site) page(name string) *template.Template {
	s.pagesOnce.Do(func() { s.pages = parsePages() })
	return s.pages[name]
}

func parsePages() map[string]*template.Template {
	pages := make(map[string]*template.Template, len(pageNames))
	base := template.Must(template.New("base.html").Funcs(funcs).ParseFS(templateFS, "templates/base.html"))
	for _, p := range pageNames {
		pages[p] = template.Must(template.Must(base.Clone()).ParseFS(templateFS, "templates/"+p))
	}
	return pages
}

// New returns an admin site over db, for the staff users of users.
func New(db *sql.DB, users *auth.Auth, o Options) *Site {
	s := &Site{db: db, users: users, title: o.Title, siteURL: o.SiteURL, logger: o.Logger}
	if s.title == "" {
		s.title = "Site administration"
	}
	if s.siteURL == "" {
		s.siteURL = "/"
	}
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	return s
}

// funcs are the admin templates' helpers.
var funcs = template.FuncMap{
	"input":  func(f *forms.Form, name string) template.HTML { return f.Input(name) },
	"errors": func(f *forms.Form, name string) []string { return f.Errors(name) },
	"title":  capitalize,
}

// Register adds a model (and its inlines), reading its table's columns.
func (s *Site) Register(ctx context.Context, m *Model) error {
	if err := m.setup(ctx, s.db); err != nil {
		return err
	}
	for _, o := range s.models {
		if o.App == m.App && o.Name == m.Name {
			return fmt.Errorf("admin: %s.%s registered twice", m.App, m.Name)
		}
	}
	s.models = append(s.models, m)
	return nil
}

// Pattern mounts the site at admin/, named "admin".
func (s *Site) Pattern() framework.Pattern { return framework.Mount("admin/", s, "admin") }

// page is what every admin page gets.
type page struct {
	Title     string
	SiteTitle string
	SiteURL   string
	Prefix    string // "/admin"
	User      *auth.User
	CSRF      string
	Messages  []framework.Message
	Crumbs    []crumb
	Data      any
}

type crumb struct{ URL, Label string }

// request is one admin request being served.
type request struct {
	s      *Site
	w      http.ResponseWriter
	r      *framework.Request
	prefix string
	user   *auth.User
}

func (q *request) url(parts ...string) string {
	return q.prefix + "/" + strings.Join(parts, "/")
}

// render writes an admin page.
func (q *request) render(status int, name, title string, crumbs []crumb, data any) error {
	p := page{Title: title, SiteTitle: q.s.title, SiteURL: q.s.siteURL, Prefix: q.prefix, User: q.user,
		CSRF: q.r.CSRFToken(), Messages: q.r.Messages().All(), Crumbs: crumbs, Data: data}
	var b strings.Builder
	if err := q.s.page(name).ExecuteTemplate(&b, "base.html", p); err != nil {
		return fmt.Errorf("admin: rendering %s: %w", name, err)
	}
	h := q.w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "private, no-store") // Django's never_cache
	q.w.WriteHeader(status)
	_, err := q.w.Write([]byte(b.String()))
	return err
}

// ServeHTTP routes an admin URL: the login page for everyone, every other
// page for active staff only (anyone else is sent to the login page).
func (s *Site) ServeHTTP(w http.ResponseWriter, hr *http.Request) {
	st := framework.FromRequest(hr)
	if st == nil {
		http.Error(w, "500 Internal Server Error: the admin must be mounted in a framework app", http.StatusInternalServerError)
		return
	}
	q := &request{s: s, w: w, r: st, prefix: st.MountPrefix()}
	if err := s.serve(q, hr.URL.Path); err != nil {
		var he *framework.HTTPError
		if e, ok := err.(*framework.HTTPError); ok {
			he = e
		} else {
			s.logger.Error("admin page failed", "path", hr.URL.Path, "error", err)
			he = &framework.HTTPError{Status: http.StatusInternalServerError}
		}
		http.Error(w, strconv.Itoa(he.Status)+" "+http.StatusText(he.Status)+"\n\n"+he.Message, he.Status)
	}
}

func (s *Site) serve(q *request, path string) error {
	u, err := s.users.User(q.r)
	if err != nil {
		return err
	}
	if u != nil && u.IsActive && u.IsStaff {
		q.user = u
	}
	switch path {
	case "/login/":
		return q.login()
	case "/logout/":
		return q.logout()
	}
	if q.user == nil {
		auth.RedirectToLogin(q.w, q.r.Request, q.url("login/"))
		return nil
	}
	if !strings.HasSuffix(path, "/") && (q.r.Method == http.MethodGet || q.r.Method == http.MethodHead) {
		// APPEND_SLASH inside the mount, which the app's own cannot see.
		to := q.prefix + path + "/"
		if q.r.URL.RawQuery != "" {
			to += "?" + q.r.URL.RawQuery
		}
		http.Redirect(q.w, q.r.Request, to, http.StatusMovedPermanently)
		return nil
	}
	parts := strings.Split(strings.Trim(path, "/"), "/")
	if path == "/" {
		return q.index("")
	}
	if len(parts) == 1 {
		return q.index(parts[0])
	}
	m := s.model(parts[0], parts[1])
	if m == nil {
		return framework.NotFound("no such model")
	}
	switch {
	case len(parts) == 2 && strings.HasSuffix(path, "/"):
		return q.changeList(m)
	case len(parts) == 3 && parts[2] == "add" && strings.HasSuffix(path, "/"):
		return q.changeForm(m, "")
	case len(parts) == 3:
		// Django redirects <pk>/ to <pk>/change/.
		return q.r.Redirect(q.w, q.url(m.App, m.Name, parts[2], "change/"))
	case len(parts) == 4 && parts[3] == "change":
		return q.changeForm(m, parts[2])
	case len(parts) == 4 && parts[3] == "delete":
		return q.deleteView(m, parts[2])
	}
	return framework.NotFound("no such admin page")
}

func (s *Site) model(app, name string) *Model {
	for _, m := range s.models {
		if m.App == app && m.Name == name {
			return m
		}
	}
	return nil
}

// can reports whether the user may do action (view, add, change, delete)
// on m, Django's "<app>.<action>_<model>" permissions.
func (q *request) can(action string, m *Model) bool {
	return q.user.HasPerm(m.App + "." + action + "_" + m.Name)
}

// Messages of the login page, Django's.
const msgNotStaff = "Please enter the correct username and password for a staff account. Note that both fields may be case-sensitive."

func (q *request) login() error {
	next := q.r.Query().Get("next")
	if q.r.Method == http.MethodPost {
		u, f, status, err := q.s.users.LoginAttempt(q.r, func(u *auth.User) string {
			if !u.IsStaff {
				return msgNotStaff
			}
			return ""
		})
		if err != nil {
			return err
		}
		data, _ := q.r.FormValues()
		if data.Get("next") != "" {
			next = data.Get("next")
		}
		if u == nil {
			for i, e := range f.Errors(forms.NonFieldErrors) {
				if e == auth.MsgInvalidLogin {
					f.Errors(forms.NonFieldErrors)[i] = msgNotStaff
				}
			}
			return q.render(status, "login.html", "Log in", nil, map[string]any{"Form": f, "Next": next})
		}
		if err := q.s.users.Login(q.r, u); err != nil {
			return err
		}
		return q.r.SafeRedirect(q.w, next, q.url(""))
	}
	if q.user != nil && next == "" {
		return q.r.Redirect(q.w, q.url(""))
	}
	return q.render(http.StatusOK, "login.html", "Log in", nil, map[string]any{"Form": forms.New(auth.LoginFields...), "Next": next})
}

func (q *request) logout() error {
	if q.r.Method != http.MethodPost {
		q.w.Header().Set("Allow", http.MethodPost)
		return framework.StatusError(http.StatusMethodNotAllowed, "log out with the button (a POST)")
	}
	q.s.users.Logout(q.r)
	q.user = nil
	return q.render(http.StatusOK, "logged_out.html", "Logged out", nil, nil)
}

// appView is one app on the index page.
type appView struct {
	Label  string
	URL    string
	Models []modelView
}

type modelView struct {
	Name, ListURL, AddURL string
}

func (q *request) index(app string) error {
	var apps []appView
	for _, m := range q.s.models {
		if app != "" && m.App != app || !q.can("view", m) && !q.can("change", m) {
			continue
		}
		if len(apps) == 0 || apps[len(apps)-1].Label != m.App {
			apps = append(apps, appView{Label: m.App, URL: q.url(m.App, "")})
		}
		mv := modelView{Name: capitalize(m.VerbosePlural), ListURL: q.url(m.App, m.Name, "")}
		if q.can("add", m) {
			mv.AddURL = q.url(m.App, m.Name, "add/")
		}
		apps[len(apps)-1].Models = append(apps[len(apps)-1].Models, mv)
	}
	if app != "" && len(apps) == 0 {
		return framework.NotFound("no such app")
	}
	title, crumbs := q.s.title, []crumb(nil)
	if app != "" {
		title = capitalize(app) + " administration"
		crumbs = []crumb{{q.url(""), "Home"}, {"", capitalize(app)}}
	}
	return q.render(http.StatusOK, "index.html", title, crumbs, apps)
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
