// Package security holds the framework's web security rules that need no
// request state, after Django's: the HTTPS redirect and HSTS middleware
// (SecurityMiddleware), the open-redirect check
// (url_has_allowed_host_and_scheme) and the secret key strength rule
// (check --deploy's security.W009). The framework uses them through its
// Settings; they work with any http.Handler.
package security

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// HTTPS returns Django's SecurityMiddleware's HTTPS half: with redirect, a
// plain-HTTP request gets a 301 to the same URL over https; with
// hstsSeconds > 0, an HTTPS response gets Strict-Transport-Security. A
// request is HTTPS when r.TLS is set, or when trustForwarded and
// X-Forwarded-Proto is https (never from the request line).
func HTTPS(redirect bool, hstsSeconds int, trustForwarded bool) func(http.Handler) http.Handler {
	hsts := []string{"max-age=" + strconv.Itoa(hstsSeconds)}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			secure := r.TLS != nil || trustForwarded && r.Header.Get("X-Forwarded-Proto") == "https"
			if !secure && redirect {
				w.Header().Set("Location", "https://"+r.Host+r.URL.RequestURI())
				w.WriteHeader(http.StatusMovedPermanently)
				return
			}
			if secure && hstsSeconds > 0 {
				w.Header()["Strict-Transport-Security"] = hsts
			}
			next.ServeHTTP(w, r)
		})
	}
}

// URLHasAllowedHostAndScheme reports whether target is safe to redirect
// to, Django's url_has_allowed_host_and_scheme: a path on this site, or
// an http(s) URL whose host[:port] is one of allowedHosts (https only when
// requireHTTPS). It refuses what browsers read as another site though a
// parser may not: "///evil", "/\\evil", "\\\\evil", a scheme with no host,
// a leading control character, javascript: and other schemes.
func URLHasAllowedHostAndScheme(target string, allowedHosts []string, requireHTTPS bool) bool {
	target = strings.TrimSpace(target)
	if target == "" {
		return false
	}
	// Browsers read a backslash as a slash: check both spellings.
	return allowedURL(target, allowedHosts, requireHTTPS) &&
		allowedURL(strings.ReplaceAll(target, `\`, "/"), allowedHosts, requireHTTPS)
}

func allowedURL(target string, allowedHosts []string, requireHTTPS bool) bool {
	if strings.HasPrefix(target, "///") {
		return false // Chrome takes it for //host
	}
	if r, _ := utf8.DecodeRuneInString(target); unicode.IsControl(r) || r == utf8.RuneError {
		return false
	}
	u, err := url.Parse(target)
	if err != nil {
		return false
	}
	if u.Host == "" && u.Scheme != "" {
		return false // http:///example.com, javascript:...
	}
	scheme := u.Scheme
	if scheme == "" && u.Host != "" {
		scheme = "http" // //example.com/p
	}
	if scheme != "" && scheme != "https" && (requireHTTPS || scheme != "http") {
		return false
	}
	if u.Host == "" {
		return true
	}
	for _, h := range allowedHosts {
		if strings.EqualFold(u.Host, h) {
			return true
		}
	}
	return false
}

// Django's SECRET_KEY rules for a key worth its name (security.W009).
const (
	minSecretKeyLength = 50
	minSecretKeyUnique = 5
)

// WeakSecretKey reports whether key is too short or too repetitive to
// sign sessions safely, by Django's rule: under 50 characters or under 5
// distinct ones, or prefixed "django-insecure-", the mark of a key
// Django's startproject wrote into a settings.py (and so into a
// repository), which a site moved from Django may bring along.
func WeakSecretKey(key string) bool {
	if len(key) < minSecretKeyLength || strings.HasPrefix(key, "django-insecure-") {
		return true
	}
	seen := map[rune]bool{}
	for _, r := range key {
		seen[r] = true
		if len(seen) >= minSecretKeyUnique {
			return false
		}
	}
	return true
}
