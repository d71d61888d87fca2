package framework

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"slices"
	"strings"
	"time"
)

// Middleware wraps the rest of the chain, as an entry of Django's
// MIDDLEWARE list. It is the standard func(http.Handler) http.Handler, so
// any stdlib-style middleware (CORS, gzip, rate limits) fits in the list.
type Middleware = func(http.Handler) http.Handler

// DefaultMiddleware returns the framework's middleware list, in Django's
// order (the first entry is the outermost): request logging, panic
// recovery, security headers, allowed hosts, HTTPS (only with
// secure_ssl_redirect or secure_hsts_seconds), sessions, CSRF, messages.
// Config.Middleware nil means this list; to add your own, append to it.
func DefaultMiddleware(s Settings, logger *slog.Logger) []Middleware {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	mw := []Middleware{
		LogRequests(logger),
		Recover(logger, s.Debug),
		SecurityHeaders,
		AllowedHosts(s.AllowedHosts, s.Debug),
		Sessions(s),
		CSRF(s),
		MessageMiddleware,
	}
	if s.SecureSSLRedirect || s.SecureHSTSSeconds > 0 {
		// After AllowedHosts: the redirect names the Host, which must be
		// checked first (Django's get_host() does it for SecurityMiddleware).
		mw = slices.Insert(mw, 4, HTTPS(s))
	}
	return mw
}

// LogRequests logs one line per request at Info: method, path, status,
// response bytes and duration.
func LogRequests(logger *slog.Logger) Middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			st, w, r := stateFor(w, r)
			next.ServeHTTP(w, r)
			logger.LogAttrs(r.Context(), slog.LevelInfo, "request",
				slog.String("method", r.Method),
				slog.String("path", r.URL.Path),
				slog.Int("status", st.rw.status),
				slog.Int64("bytes", st.rw.bytes),
				slog.Duration("duration", time.Since(start)))
		})
	}
}

// Recover turns a panic in the rest of the chain into a 500 page (in debug,
// one with the panic, the request and the stack) and a log line with the
// stack, and the server goes on serving. A panic after the response has
// started aborts the connection instead (http.ErrAbortHandler), so the
// client does not take a truncated page for a whole one.
func Recover(logger *slog.Logger, debugPages bool) Middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			st, w, r := stateFor(w, r)
			defer func() {
				p := recover()
				if p == nil {
					return
				}
				if p == http.ErrAbortHandler {
					panic(p)
				}
				stack := debug.Stack()
				logger.LogAttrs(r.Context(), slog.LevelError, "panic serving request",
					slog.String("method", r.Method), slog.String("path", r.URL.Path),
					slog.String("panic", fmt.Sprint(p)), slog.String("stack", string(stack)))
				if st.rw.wrote {
					panic(http.ErrAbortHandler)
				}
				if debugPages {
					writeDebug500(w, r, fmt.Sprintf("panic: %v", p), stack)
					return
				}
				writeError(w, st, http.StatusInternalServerError, "", nil, false)
			}()
			next.ServeHTTP(w, r)
		})
	}
}

// Security header values, never modified (a view that sets one replaces
// the slice, which is how a view relaxes X-Frame-Options).
var (
	hdrNosniff    = []string{"nosniff"}
	hdrDeny       = []string{"DENY"}
	hdrSameOrigin = []string{"same-origin"}
)

// SecurityHeaders sets Django's default security headers on every
// response: X-Content-Type-Options: nosniff, X-Frame-Options: DENY,
// Referrer-Policy: same-origin and Cross-Origin-Opener-Policy: same-origin.
// A view may override any of them with w.Header().Set.
func SecurityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h["X-Content-Type-Options"] = hdrNosniff
		h["X-Frame-Options"] = hdrDeny
		h["Referrer-Policy"] = hdrSameOrigin
		h["Cross-Origin-Opener-Policy"] = hdrSameOrigin
		next.ServeHTTP(w, r)
	})
}

// AllowedHosts answers 400 to a request whose Host is not in hosts, as
// Django's DisallowedHost (which protects password-reset links and caches
// from a forged Host). An entry is a host name ("example.com"), a domain
// and its subdomains (".example.com"), or "*". The port is ignored. In
// debug, an empty list allows localhost (and subdomains), 127.0.0.1 and [::1].
func AllowedHosts(hosts []string, debugPages bool) Middleware {
	if len(hosts) == 0 && debugPages {
		hosts = []string{".localhost", "127.0.0.1", "[::1]"}
	}
	m := make([]string, len(hosts))
	for i, h := range hosts {
		m[i] = strings.ToLower(h)
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !hostAllowed(r.Host, m) {
				st, w, _ := stateFor(w, r)
				msg := ""
				if h := splitHost(r.Host); debugPages && h != "" {
					msg = fmt.Sprintf("Invalid HTTP_HOST header: %q. You may need to add %q to allowed_hosts.", r.Host, h)
				} else if debugPages {
					// Django's words for a Host no list can take ("a.test:",
					// "a.test:x"): adding "" to allowed_hosts was the advice.
					msg = fmt.Sprintf("Invalid HTTP_HOST header: %q. The domain name provided is not valid according to RFC 1034/1035.", r.Host)
				}
				writeError(w, st, http.StatusBadRequest, msg, nil, debugPages)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// hostAllowed implements Django's validate_host for a Host header value.
func hostAllowed(hostport string, patterns []string) bool {
	host := splitHost(hostport)
	if host == "" && hostport != "" {
		return false // not a valid host: never allowed, even by "*"
	}
	for _, p := range patterns {
		if p == "*" {
			return true
		}
		if p == "" || host == "" {
			continue
		}
		if strings.EqualFold(host, p) {
			return true
		}
		if p[0] == '.' && (strings.EqualFold(host, p[1:]) ||
			len(host) > len(p) && strings.EqualFold(host[len(host)-len(p):], p)) {
			return true
		}
	}
	return false
}

// splitHost returns the host of a Host header without port and trailing
// dot, or "" if it is not a valid host (Django's host_validation_re).
func splitHost(hostport string) string {
	host := hostport
	if strings.HasPrefix(host, "[") {
		i := strings.IndexByte(host, ']')
		if i < 0 {
			return ""
		}
		host, rest := host[:i+1], host[i+1:]
		if rest != "" && (rest[0] != ':' || !isDigits(rest[1:])) {
			return ""
		}
		if net.ParseIP(host[1:i]) == nil {
			return ""
		}
		return host
	}
	if i := strings.LastIndexByte(host, ':'); i >= 0 {
		if !isDigits(host[i+1:]) {
			return ""
		}
		host = host[:i]
	}
	host = strings.TrimSuffix(host, ".")
	if host == "" {
		return ""
	}
	for i := 0; i < len(host); i++ {
		c := host[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '-') {
			return ""
		}
	}
	return host
}

// isDigits reports whether s is a non-empty run of ASCII digits (a port).
func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
