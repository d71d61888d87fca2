// Package debugpage renders the framework's debug pages, Django's
// technical 500 and 404: what failed, the request, the stack, the
// settings and the URL patterns tried, every header and setting named like
// a secret masked. It stands alone because it is a self-contained piece of
// presentation that only runs when a debug app fails; the framework
// decides when to show it and passes in what to show.
package debugpage

import (
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"sync"
)

// The debug pages, Django's technical 500 and 404. html/template escapes
// everything that comes from the request or the error. They are parsed on
// first use: every process of the stack (the edge, each worker) would
// otherwise parse them at start, for pages a production app never shows.
var (
	page500 = sync.OnceValue(func() *template.Template {
		return template.Must(template.New("500").Parse(debugHead + `<h1>{{.Title}}</h1>
<p>{{.Method}} {{.URL}}</p>
{{if .Stack}}<h2>Traceback</h2><pre>{{.Stack}}</pre>{{end}}
<h2>Request headers</h2>
<table>{{range .Headers}}<tr><th>{{index . 0}}</th><td>{{index . 1}}</td></tr>{{end}}</table>
{{with .Settings}}<h2>Settings</h2>
<table>{{range .}}<tr><th>{{index . 0}}</th><td>{{index . 1}}</td></tr>{{end}}</table>{{end}}
<p class="note">You are seeing this page because debug is true in the app's settings. Set it to false to show a plain error page.</p>
</body></html>
`))
	})
	page404 = sync.OnceValue(func() *template.Template {
		return template.Must(template.New("404").Parse(debugHead + `<h1>Page not found (404)</h1>
<p>{{.Method}} {{.URL}}</p>
{{with .Message}}<p><strong>{{.}}</strong></p>{{end}}
{{if .Patterns}}<p>Using the URL patterns of this app, stack tried these, in this order:</p>
<ol>{{range .Patterns}}<li><code>{{.Pattern}}</code>{{with .Name}} [name='{{.}}']{{end}}{{with .Methods}} {{.}}{{end}}</li>{{end}}</ol>
<p>The current path, <code>{{.Path}}</code>, did not match any of these.</p>{{end}}
<p class="note">You are seeing this page because debug is true in the app's settings. Set it to false to show a plain 404 page.</p>
</body></html>
`))
	})
)

const debugHead = `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="robots" content="noindex"><title>stack debug</title>
<style>body{font:14px sans-serif;margin:2em}pre{background:#f6f6f6;padding:1em;overflow:auto}th{text-align:left;padding-right:1em;vertical-align:top}td{font-family:monospace;word-break:break-all}.note{color:#666;margin-top:2em}</style>
</head><body>
`

// cleansed stands for a sensitive value, as Django's cleansed_substitute.
const cleansed = "********************"

// sensitiveWords are what Django's SafeExceptionReporterFilter.hidden_settings
// matches (API|AUTH|TOKEN|KEY|SECRET|PASS|SIGNATURE|HTTP_COOKIE, any case):
// a header or setting whose name contains one is masked on debug pages.
var sensitiveWords = [...]string{"API", "AUTH", "TOKEN", "KEY", "SECRET", "PASS", "SIGNATURE", "COOKIE"}

// IsSensitiveName reports whether a header or setting name looks like it
// holds a secret (X-Api-Key, Authorization, secret_key, db_password...), by
// Django's rule. Debug pages show such values as stars.
func IsSensitiveName(name string) bool {
	u := strings.ToUpper(name)
	for _, w := range sensitiveWords {
		if strings.Contains(u, w) {
			return true
		}
	}
	return false
}

// Write500 writes the debug error page: what failed (title), the request
// (its headers, sensitive ones masked), the stack when there is one, and
// the app's settings as SettingsRows lists them.
func Write500(w http.ResponseWriter, r *http.Request, title string, stack []byte, settings [][2]string) {
	var headers [][2]string
	for k, vs := range r.Header {
		v := strings.Join(vs, ", ")
		if IsSensitiveName(k) {
			v = cleansed
		}
		headers = append(headers, [2]string{k, v})
	}
	slices.SortFunc(headers, func(a, b [2]string) int { return strings.Compare(a[0], b[0]) })
	write(w, http.StatusInternalServerError, page500(), map[string]any{
		"Title": title, "Method": r.Method, "URL": r.URL.String(), "Stack": string(stack), "Headers": headers,
		"Settings": settings,
	})
}

// SettingsRows lists a settings struct's fields by their yaml names (the
// stack.yaml keys; fields without one are left out) for the debug page,
// sensitive ones masked, and a database URL's password hidden.
func SettingsRows(settings any) [][2]string {
	v := reflect.ValueOf(settings)
	t := v.Type()
	var rows [][2]string
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if name == "" || name == "-" {
			continue
		}
		f := v.Field(i)
		if f.Kind() == reflect.Pointer {
			if f.IsNil() {
				continue
			}
			f = f.Elem()
		}
		val := fmt.Sprint(f.Interface())
		switch {
		case IsSensitiveName(name):
			val = cleansed
		case name == "database":
			if u, err := url.Parse(val); err == nil {
				// libpq also takes the password as a query parameter.
				if q := u.Query(); q.Has("password") {
					q.Set("password", cleansed)
					u.RawQuery = q.Encode()
					val = u.String()
				}
				if u.User != nil {
					if _, has := u.User.Password(); has {
						val = strings.Replace(u.Redacted(), ":xxxxx@", ":"+cleansed+"@", 1)
					}
				}
			}
		}
		rows = append(rows, [2]string{name, val})
	}
	return rows
}

// Write404 writes the debug 404 page, listing the URL patterns tried:
// patterns is a slice of structs with Pattern, Name and Methods fields.
func Write404(w http.ResponseWriter, r *http.Request, msg string, patterns any) {
	write(w, http.StatusNotFound, page404(), map[string]any{
		"Method": r.Method, "URL": r.URL.String(), "Path": strings.TrimPrefix(r.URL.Path, "/"),
		"Message": msg, "Patterns": patterns,
	})
}

// write sends a debug page with status, replacing whatever the headers
// said of a body that is not this one.
func write(w http.ResponseWriter, status int, t *template.Template, data any) {
	h := w.Header()
	for _, k := range [...]string{"Content-Length", "Content-Encoding", "Content-Disposition", "Etag", "Last-Modified"} {
		delete(h, k)
	}
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = t.Execute(w, data)
}
