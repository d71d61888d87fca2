package framework

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"mime"
	"net/http"

	"github.com/stack-web/stack/framework/internal/csrf"
)

// CSRF form field and header names, as Django's.
const (
	CSRFFieldName  = "csrfmiddlewaretoken"
	CSRFHeaderName = "X-CSRFToken"
)

// CSRF returns the cross-site request forgery middleware, Django's
// CsrfViewMiddleware with CSRF_USE_SESSIONS: the secret lives in the
// session (so Sessions must come before it), and every page gets it masked
// afresh (a one-time pad, as Django does, against BREACH).
//
// POST, PUT, PATCH and DELETE (any method but GET, HEAD, OPTIONS and TRACE)
// must carry the token in the form field "csrfmiddlewaretoken" or the
// header "X-CSRFToken", unless their pattern is CSRFExempt. An Origin
// header, when sent, must be this host's origin (scheme://Host) or in
// s.CSRFTrustedOrigins; over HTTPS without Origin, the Referer must be
// https and this host (or a trusted one). A failure is a 403, logged with
// Django's reason ("CSRF token missing.", "CSRF token incorrect."...); the
// page gives the reason in debug only.
func CSRF(s Settings) Middleware {
	s = s.withDefaults()
	cfg := &csrfConfig{debug: s.Debug, maxBody: s.MaxBodySize, Origins: csrf.NewOrigins(s.CSRFTrustedOrigins)}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			st, w, r := stateFor(w, r)
			st.csrf = cfg
			switch r.Method {
			case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
				next.ServeHTTP(w, r)
				return
			}
			if st.route != nil && st.route.csrfExempt || st.app != nil && st.res != resRoute {
				// Exempt, or nothing to protect: as in Django, where a URL
				// that does not resolve never reaches process_view, a POST
				// to it gets 404, not 403.
				next.ServeHTTP(w, r)
				return
			}
			if status, reason := cfg.check(w, st, r); status != 0 {
				st.logger().LogAttrs(r.Context(), slog.LevelWarn, "Forbidden ("+reason+")",
					slog.String("method", r.Method), slog.String("path", r.URL.Path))
				msg := reason
				if status == http.StatusForbidden {
					// As Django's csrf_failure: the reason (which may echo a
					// foreign Origin or a whole Referer) is for the developer,
					// so it is in the log always and on the page in debug only.
					msg = "CSRF verification failed. Request aborted."
					if cfg.debug {
						msg += "\n\nReason: " + reason
					}
				}
				writeError(w, st, status, msg, nil, cfg.debug)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// csrfConfig is the CSRF middleware's configuration.
type csrfConfig struct {
	csrf.Origins // csrf_trusted_origins, for the Origin and Referer checks
	debug        bool
	maxBody      int64
}

// check verifies an unsafe request and returns 0, or the status (403, 413,
// 400) and reason of its rejection, in Django's order: origin, referer,
// secret, token.
func (c *csrfConfig) check(w http.ResponseWriter, st *Request, r *http.Request) (int, string) {
	if origin := r.Header.Get("Origin"); origin != "" {
		if !c.OriginOK(origin, st.secure, r.Host) {
			return http.StatusForbidden, fmt.Sprintf("Origin checking failed - %s does not match any trusted origins.", origin)
		}
	} else if st.secure {
		if reason := c.RefererReason(r); reason != "" {
			return http.StatusForbidden, reason
		}
	}
	if st.sessions == nil {
		return http.StatusForbidden, "CSRF session token not set (the Sessions middleware must come before CSRF)."
	}
	secret := st.Session().data.CSRF
	if secret == "" {
		return http.StatusForbidden, "CSRF session token not set."
	}
	token, source := "", "POST"
	if r.Method == http.MethodPost && isFormBody(r) {
		if st.app == nil {
			st.maxBody = c.maxBody // used without an App, which limits bodies itself
		}
		st.limitBody(w, r)
		if err := st.parseForm(r); err != nil {
			var he *HTTPError
			errors.As(err, &he)
			return he.Status, he.Message
		}
		// The last of the fields, as Django's request.POST.get: the
		// same token whichever accessor a view uses.
		token = Values(r.PostForm).Get(CSRFFieldName)
	}
	if token == "" {
		token, source = r.Header.Get(CSRFHeaderName), "the '"+CSRFHeaderName+"' HTTP header"
	}
	if token == "" {
		return http.StatusForbidden, "CSRF token missing."
	}
	switch {
	case len(token) != csrf.SecretLen && len(token) != csrf.TokenLen:
		return http.StatusForbidden, "CSRF token from " + source + " has incorrect length."
	case !csrf.ValidChars(token):
		return http.StatusForbidden, "CSRF token from " + source + " has invalid characters."
	}
	if len(token) == csrf.TokenLen {
		token = csrf.Unmask(token)
	}
	if subtle.ConstantTimeCompare([]byte(token), []byte(secret)) != 1 {
		return http.StatusForbidden, "CSRF token from " + source + " incorrect."
	}
	return 0, ""
}

func isFormBody(r *http.Request) bool {
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return ct == "application/x-www-form-urlencoded" || ct == "multipart/form-data"
}

// CSRFToken returns this response's CSRF token (the session's secret,
// masked; the same for the whole request), creating the secret if the
// session has none. Templates get it as {{.csrf_token}} and
// {{csrf_field $}}; JavaScript sends it in the X-CSRFToken header. It is
// "" without the CSRF and Sessions middleware.
func (r *Request) CSRFToken() string {
	if r.csrfToken != "" || r.csrf == nil || r.sessions == nil {
		return r.csrfToken
	}
	s := r.Session()
	if s.data.CSRF == "" {
		s.data.CSRF = csrf.NewSecret()
		s.modified = true
	}
	r.csrfToken = csrf.Mask(s.data.CSRF)
	return r.csrfToken
}

// RotateCSRFToken replaces the session's CSRF secret, Django's
// rotate_token(): forms rendered before (a login page) stop working, and a
// token an attacker learned before login is useless after it. Login calls it.
func (r *Request) RotateCSRFToken() {
	if r.csrf == nil || r.sessions == nil {
		return
	}
	s := r.Session()
	s.data.CSRF = csrf.NewSecret()
	s.modified = true
	r.csrfToken = ""
}

// csrfTokenValue is "csrf_token" in a template's context: it computes the
// token only if the page prints it, so a page without a form does not
// create a session.
type csrfTokenValue struct{ r *Request }

func (c csrfTokenValue) String() string { return c.r.CSRFToken() }

// csrfField is the template function csrf_field: the hidden form input
// carrying the token. It takes the page's data ({{csrf_field $}}) because
// template functions are fixed at parse time and cannot see the request.
func csrfField(data any) (template.HTML, error) {
	var tok string
	switch d := data.(type) {
	case Context:
		v, ok := d["csrf_token"]
		if !ok {
			return "", fmt.Errorf("csrf_field: the data has no csrf_token (render the page with Request.Render)")
		}
		if c, ok := v.(csrfTokenValue); ok {
			tok = c.String() // what fmt.Sprint would print, without fmt
		} else {
			tok = fmt.Sprint(v)
		}
	case *Request:
		tok = d.CSRFToken()
	case csrfTokenValue:
		tok = d.String()
	case string:
		tok = d
	default:
		return "", fmt.Errorf("csrf_field: want the page's data, as {{csrf_field $}}, got %T", data)
	}
	return template.HTML(`<input type="hidden" name="` + CSRFFieldName + `" value="` + template.HTMLEscapeString(tok) + `">`), nil
}
