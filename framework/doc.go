// Package framework is a small Django-like web framework whose product is
// an http.Handler: URL patterns with typed converters, views, templates,
// middleware, sessions, CSRF and flash messages. It knows nothing of the
// server in front of it; stack's app server hosts it over uwsgi, and
// net/http or httptest host it just as well.
//
// # A tiny app, the Django way
//
// Django's urls.py, views.py, a template and settings.py map to this:
//
//	package polls
//
//	import (
//		"embed"
//		"io/fs"
//		"net/http"
//
//		"github.com/stack-web/stack/framework"
//	)
//
//	//go:embed templates static
//	var files embed.FS
//
//	// urls.py: app_name = "polls"; urlpatterns = [path(...), ...]
//	var URLs = []framework.Pattern{
//		framework.Path("", index, "index"),
//		framework.Path("<int:question_id>/", detail, "detail"),
//		framework.Path("<int:question_id>/vote/", vote, "vote").Methods(http.MethodPost),
//	}
//
//	// views.py
//	func detail(w http.ResponseWriter, r *framework.Request) error {
//		q, ok := questions[r.Int("question_id")] // an int, as <int:...> promised
//		if !ok {
//			return framework.NotFound("no such question") // raise Http404
//		}
//		return r.Render(w, "polls/detail.html", framework.Context{"question": q})
//	}
//
//	func vote(w http.ResponseWriter, r *framework.Request) error {
//		form, err := r.FormValues() // request.POST; CSRF was checked already
//		if err != nil {
//			return err // 400, or 413 for a body over max_body_size
//		}
//		record(r.Int("question_id"), form.Get("choice"))
//		r.Messages().Success("Thanks for voting!")
//		return r.RedirectTo(w, "polls:detail", r.Int("question_id"))
//	}
//
//	// INSTALLED_APPS entry: the app's templates/ and static/ folders.
//	func Config() framework.AppConfig {
//		t, _ := fs.Sub(files, "templates")
//		s, _ := fs.Sub(files, "static")
//		return framework.AppConfig{Name: "polls", Templates: t, Static: s}
//	}
//
// The template templates/polls/detail.html (Go template syntax with the
// framework/templates extensions: extends, blocks, Django's filters):
//
//	{{extends "base.html"}}
//	{{define "content"}}
//	<link rel="stylesheet" href="{{static "polls/style.css"}}">
//	{{with .messages.All}}<ul>{{range .}}<li class="{{.Tags}}">{{.}}</li>{{end}}</ul>{{end}}
//	<form action="{{url "polls:vote" .question.ID}}" method="post">
//	  {{csrf_field $}}
//	  {{range .question.Choices}}<label><input type="radio" name="choice" value="{{.ID}}"> {{.Text}}</label>{{end}}
//	  <button>Vote</button>
//	</form>
//	{{end}}
//
// The project (settings.py + the root urls.py), here built by hand; in
// stack the Settings come from the app's section of stack.yaml:
//
//	settings := framework.Settings{Debug: true, AllowedHosts: []string{"localhost"}}
//	app, err := framework.New(settings, framework.Config{
//		URLs: []framework.Pattern{
//			framework.Include("polls/", "polls", polls.URLs...), // include("polls.urls")
//		},
//		Apps: []framework.AppConfig{polls.Config()},
//		// MIDDLEWARE; nil means exactly this list:
//		Middleware: []framework.Middleware{
//			framework.LogRequests(logger),
//			framework.Recover(logger, settings.Debug),
//			framework.SecurityHeaders,
//			framework.AllowedHosts(settings.AllowedHosts, settings.Debug),
//			framework.Sessions(settings),
//			framework.CSRF(settings),
//			framework.MessageMiddleware,
//		},
//		Logger: logger,
//	})
//	if err != nil { ... } // every bad setting, pattern and template, at once
//	http.ListenAndServe("127.0.0.1:8000", app) // or stack's app server
//
// # Views
//
// A [View] is func(w http.ResponseWriter, r *Request) error. It writes its
// response with the helpers on [Request] (Render, JSON, Redirect,
// RedirectTo, Stream, File) or directly to w, and returns nil; or it
// returns an error: a *[HTTPError] ([NotFound], [BadRequest], [Forbidden],
// [StatusError]) answers with that status, anything else with 500, logged,
// with the error on the page in debug. The typed URL parameters are
// r.Int("question_id"), r.Arg(name), r.Params(), and also r.PathValue(name)
// as text, as for any stdlib handler.
//
// # Templates
//
// Pages are rendered by framework/templates from Settings.TemplateDirs,
// then each app's Templates. Every page's data is a [Context] to which
// Render adds "request", "csrf_token", "messages" and "debug". The
// framework's template functions are:
//
//	{{url "polls:detail" .question.ID}}  reverse a pattern name (an error aborts the page)
//	{{static "polls/style.css"}}         Settings.StaticURL + the path: /static/polls/style.css
//	{{csrf_field $}}                     the hidden csrfmiddlewaretoken input
//
// csrf_field takes the page's data (write $, which is the data even inside
// {{range}} and {{with}}), because html/template binds functions when it
// parses, before any request exists. {{.csrf_token}} prints the bare token.
//
// # Middleware
//
// A [Middleware] is func(http.Handler) http.Handler, so stdlib middleware
// mix freely with the framework's. The App resolves the URL before running
// them, so middleware can see the matched pattern (CSRF exemption). Their
// per-request state lives in the [Request], reachable from any handler with
// [FromRequest].
//
// # HTTPS
//
// A request is HTTPS when r.TLS is set (net/http's TLS server, and stack's
// uwsgi app server, which sets it from the HTTPS variable the edge sends);
// an absolute-form request line (GET https://host/) never counts, as it
// can come over plain HTTP. X-Forwarded-Proto is believed only with
// Settings.TrustForwardedProto, because anyone can send it. HTTPS makes the
// session cookie Secure and turns on CSRF's Referer check.
//
// # Security, as Django's
//
// Debug is off unless the settings turn it on; then secret_key and
// allowed_hosts are required, and a weak key (under 50 characters or 5
// distinct ones) is warned about. Settings.DeployWarnings lists what
// Django's check --deploy would (stack check --deploy prints it). A
// session's key is cycled with Session.CycleKey and its CSRF secret with
// Request.RotateCSRFToken (framework/auth's Login does both);
// secret_key_fallbacks keep sessions signed with earlier keys. Redirect
// targets from the request go through Request.SafeRedirect. The debug 500
// page masks every header and setting named like a secret.
//
// # Forms, users and the admin
//
// They are subpackages, as Django's contrib apps: framework/forms (typed
// fields, validation, rendering), framework/auth (users, password hashing,
// login, throttling, LoginRequired) and framework/admin (the admin site
// over database/sql tables), with framework/security for the rules that
// need no request state.
package framework
