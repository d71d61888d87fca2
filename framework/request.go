package framework

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"

	"github.com/stack-web/stack/framework/internal/sessioncookie"
	"github.com/stack-web/stack/framework/internal/urlpath"
)

// Request is what a View receives, Django's HttpRequest: the *http.Request
// (embedded, so r.Method, r.URL, r.Header, r.Context() work as usual), the
// typed URL parameters, the session, flash messages, and the App for
// reversing and rendering. One Request lives for one HTTP request; do not
// keep it (or what Params returns) after the view returns.
//
// The framework's middleware keep their per-request state here too, so a
// plain http.Handler below them can reach it with [FromRequest].
type Request struct {
	*http.Request

	app *App
	ctx stateContext   // the request's context, carrying this Request
	rw  responseWriter // the one wrapper every response goes through

	// URL resolution, done before the middleware run.
	res         resolution
	route       *route
	rest        string // a mount's unmatched path
	params      []Param
	paramBuf    [6]Param
	mountPrefix string

	secure      bool
	maxBody     int64
	bodyLimited bool
	multipart   *multipart.Form
	query       Values

	// Set by the Sessions, CSRF and Messages middleware.
	sessions   *sessioncookie.Store
	session    Session
	csrf       *csrfConfig
	csrfToken  string
	messagesOn bool
	messages   Messages
}

// resolution is what URL resolution decided for a request.
type resolution uint8

const (
	resNotFound    resolution = iota
	resRoute                  // a view or a mount
	resSlash                  // APPEND_SLASH: redirect to path + "/"
	resSlashUnsafe            // APPEND_SLASH would have applied, but not to this method
	resStatic                 // a static file served by the app (debug)
)

// Param is one URL parameter captured by a converter.
type Param = urlpath.Param

// stateKey is the context key of the *Request.
type stateKey struct{}

// stateContext is the request's context with the *Request in it: what
// context.WithValue would build, but living inside the Request, so it costs
// no allocation of its own. Cancellation is the parent's (the context
// package finds the parent's cancelCtx through Value, so no goroutine is
// started for children).
type stateContext struct {
	context.Context
	st *Request
}

func (c *stateContext) Value(key any) any {
	if key == (stateKey{}) {
		return c.st
	}
	return c.Context.Value(key)
}

func (c *stateContext) String() string { return "framework.Request context" }

// attach makes hr's context carry r and returns the request to pass on.
func (r *Request) attach(hr *http.Request) *http.Request {
	r.ctx = stateContext{Context: hr.Context(), st: r}
	hr = hr.WithContext(&r.ctx)
	r.Request = hr
	return hr
}

// FromRequest returns the framework's Request for r, or nil when r did not
// come through an App or the framework's middleware. It gives a plain
// http.Handler (a Mount) the session, messages and parameters.
func FromRequest(r *http.Request) *Request {
	st, _ := r.Context().Value(stateKey{}).(*Request)
	return st
}

// stateFor returns the Request state for a middleware. Under an App it
// already exists and every writer below it writes through st.rw. A
// middleware used on its own creates it, and returns the writer and
// request to pass on.
func stateFor(w http.ResponseWriter, r *http.Request) (*Request, http.ResponseWriter, *http.Request) {
	if st := FromRequest(r); st != nil {
		return st, w, r
	}
	st := &Request{maxBody: DefaultMaxBodySize, secure: isHTTPS(r, false)}
	st.rw.reset(w, st)
	return st, &st.rw, st.attach(r)
}

// isHTTPS decides whether r came over HTTPS, as Django's is_secure: the
// server (or the uwsgi app server, from the HTTPS variable) set r.TLS, or,
// when the settings trust it, X-Forwarded-Proto says so. The request line
// never counts: "GET https://host/ HTTP/1.1" can be sent over plain HTTP.
func isHTTPS(r *http.Request, trustForwarded bool) bool {
	if r.TLS != nil {
		return true
	}
	return trustForwarded && r.Header.Get("X-Forwarded-Proto") == "https"
}

// limitBody makes reading more than maxBody bytes of r's body fail with
// *http.MaxBytesError, once per request, so that every parser (ours or
// net/http's ParseForm) stays within the limit.
func (r *Request) limitBody(w http.ResponseWriter, hr *http.Request) {
	if r.bodyLimited || r.maxBody < 0 || hr.Body == nil || hr.Body == http.NoBody {
		return
	}
	r.bodyLimited = true
	hr.Body = http.MaxBytesReader(w, hr.Body, r.maxBody)
}

// App returns the App serving the request (nil under middleware used
// without one).
func (r *Request) App() *App { return r.app }

// IsSecure reports whether the request came over HTTPS (see Settings.TrustForwardedProto).
func (r *Request) IsSecure() bool { return r.secure }

// Params returns the URL parameters in pattern order. The slice belongs to
// the Request.
func (r *Request) Params() []Param { return r.params }

// Arg returns the typed value of URL parameter name (see Param.Value), or
// nil. Django passes these to the view as keyword arguments.
func (r *Request) Arg(name string) any {
	for i := range r.params {
		if r.params[i].Name == name {
			return r.params[i].Value()
		}
	}
	return nil
}

// Int returns the value of an <int:name> parameter (or a custom converter's
// int), 0 if there is none.
func (r *Request) Int(name string) int { return urlpath.Int(r.params, name) }

// PathValue returns the text of URL parameter name as matched
// (percent-decoded), "" if there is none: http.Request.PathValue for a view.
func (r *Request) PathValue(name string) string {
	for i := range r.params {
		if r.params[i].Name == name {
			return r.params[i].Raw
		}
	}
	return r.Request.PathValue(name)
}

// setPathValues hands the URL parameters to a plain http.Handler (a Mount,
// a HandlerView) through hr.SetPathValue. Views do not need it (they have
// Request.PathValue), which saves a map per request.
func (r *Request) setPathValues(hr *http.Request) {
	for i := range r.params {
		hr.SetPathValue(r.params[i].Name, r.params[i].Raw)
	}
}

// MountPrefix returns, for a request routed by Mount, the path prefix that
// was matched and removed from r.URL.Path ("/api" for "/api/items"), as
// SCRIPT_NAME in WSGI; "" otherwise.
func (r *Request) MountPrefix() string { return r.mountPrefix }

// Query returns the parsed query string, Django's request.GET: Get gives
// a repeated field's last value (see Values). It is parsed once per
// request; do not modify it.
func (r *Request) Query() Values {
	if r.query == nil {
		r.query = Values(r.URL.Query())
	}
	return r.query
}

// FormValues parses an application/x-www-form-urlencoded or
// multipart/form-data body and returns its fields, Django's request.POST:
// Get gives a repeated field's last value (see Values); uploaded files
// are in r.MultipartForm. A body over Settings.MaxBodySize
// gives a 413 *HTTPError, a malformed one a 400: return it from the view.
func (r *Request) FormValues() (Values, error) {
	if r.PostForm != nil {
		return Values(r.PostForm), nil
	}
	if err := r.parseForm(r.Request); err != nil {
		return nil, err
	}
	return Values(r.PostForm), nil
}

// maxMemory is how much of a multipart body is kept in memory; the rest of
// the (size-limited) body goes to temporary files, removed after the request.
const maxMemory = 8 << 20

// parseForm parses hr's body (hr is the request at the caller's layer of
// middleware; the view's is r.Request) into hr.PostForm.
func (r *Request) parseForm(hr *http.Request) error {
	if r.maxBody >= 0 && hr.ContentLength > r.maxBody {
		return tooLarge(nil)
	}
	ct, _, _ := mime.ParseMediaType(hr.Header.Get("Content-Type"))
	var err error
	if ct == "multipart/form-data" {
		err = hr.ParseMultipartForm(maxMemory)
		if hr.MultipartForm != nil {
			r.multipart = hr.MultipartForm
		}
	} else {
		err = hr.ParseForm()
	}
	if err != nil {
		return bodyError("malformed form body", err)
	}
	return nil
}

// DecodeJSON decodes a JSON body (one value, nothing after it) into v. A
// body over Settings.MaxBodySize gives a 413 *HTTPError, invalid JSON a 400:
// return it from the view.
func (r *Request) DecodeJSON(v any) error {
	if r.maxBody >= 0 && r.ContentLength > r.maxBody {
		return tooLarge(nil)
	}
	if r.Body == nil {
		return BadRequest("empty body: want JSON")
	}
	dec := json.NewDecoder(r.Body)
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return BadRequest("empty body: want JSON")
		}
		return bodyError("invalid JSON body", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return bodyError("invalid JSON body: more than one value", err)
	}
	return nil
}

// bodyError maps a body-reading error to 413 or 400.
func bodyError(msg string, err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return tooLarge(err)
	}
	return &HTTPError{Status: http.StatusBadRequest, Message: msg, Err: err}
}

func tooLarge(err error) error {
	return &HTTPError{Status: http.StatusRequestEntityTooLarge, Message: "request body too large", Err: err}
}
