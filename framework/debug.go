package framework

import (
	"html/template"
	"net/http"
	"slices"
	"strings"
)

// The debug pages, Django's technical 500 and 404. html/template escapes
// everything that comes from the request or the error.
var (
	debug500Page = template.Must(template.New("500").Parse(debugHead + `<h1>{{.Title}}</h1>
<p>{{.Method}} {{.URL}}</p>
{{if .Stack}}<h2>Traceback</h2><pre>{{.Stack}}</pre>{{end}}
<h2>Request headers</h2>
<table>{{range .Headers}}<tr><th>{{index . 0}}</th><td>{{index . 1}}</td></tr>{{end}}</table>
<p class="note">You are seeing this page because debug is true in the app's settings. Set it to false to show a plain error page.</p>
</body></html>
`))
	debug404Page = template.Must(template.New("404").Parse(debugHead + `<h1>Page not found (404)</h1>
<p>{{.Method}} {{.URL}}</p>
{{with .Message}}<p><strong>{{.}}</strong></p>{{end}}
{{if .Patterns}}<p>Using the URL patterns of this app, stack tried these, in this order:</p>
<ol>{{range .Patterns}}<li><code>{{.Pattern}}</code>{{with .Name}} [name='{{.}}']{{end}}{{with .Methods}} {{.}}{{end}}</li>{{end}}</ol>
<p>The current path, <code>{{.Path}}</code>, did not match any of these.</p>{{end}}
<p class="note">You are seeing this page because debug is true in the app's settings. Set it to false to show a plain 404 page.</p>
</body></html>
`))
)

const debugHead = `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="robots" content="noindex"><title>stack debug</title>
<style>body{font:14px sans-serif;margin:2em}pre{background:#f6f6f6;padding:1em;overflow:auto}th{text-align:left;padding-right:1em;vertical-align:top}td{font-family:monospace;word-break:break-all}.note{color:#666;margin-top:2em}</style>
</head><body>
`

// sensitiveHeaders are masked on debug pages, as Django's
// SafeExceptionReporterFilter masks HTTP_COOKIE and the like.
var sensitiveHeaders = []string{"Authorization", "Cookie", "Proxy-Authorization", "X-Csrftoken"}

// writeDebug500 writes the debug error page: what failed, the request,
// and the stack when there is one.
func writeDebug500(w http.ResponseWriter, r *http.Request, title string, stack []byte) {
	var headers [][2]string
	for k, vs := range r.Header {
		v := strings.Join(vs, ", ")
		if slices.Contains(sensitiveHeaders, k) {
			v = "********************"
		}
		headers = append(headers, [2]string{k, v})
	}
	slices.SortFunc(headers, func(a, b [2]string) int { return strings.Compare(a[0], b[0]) })
	writeDebugPage(w, http.StatusInternalServerError, debug500Page, map[string]any{
		"Title": title, "Method": r.Method, "URL": r.URL.String(), "Stack": string(stack), "Headers": headers,
	})
}

// writeDebug404 writes the debug 404 page, listing the URL patterns tried.
func (a *App) writeDebug404(w http.ResponseWriter, r *http.Request, msg string) {
	writeDebugPage(w, http.StatusNotFound, debug404Page, map[string]any{
		"Method": r.Method, "URL": r.URL.String(), "Path": strings.TrimPrefix(r.URL.Path, "/"),
		"Message": msg, "Patterns": a.Routes(),
	})
}

func writeDebugPage(w http.ResponseWriter, status int, t *template.Template, data any) {
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
