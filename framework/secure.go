package framework

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// HTTPS returns Django's SecurityMiddleware's HTTPS half: with
// s.SecureSSLRedirect a plain-HTTP request gets a 301 to the same URL over
// https, and with s.SecureHSTSSeconds an HTTPS response gets
// Strict-Transport-Security. DefaultMiddleware includes it only when one
// of them is set, so a site without them pays nothing.
func HTTPS(s Settings) Middleware {
	hsts := []string{"max-age=" + strconv.Itoa(s.SecureHSTSSeconds)}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			st, w, r := stateFor(w, r)
			if !st.secure && s.SecureSSLRedirect {
				w.Header().Set("Location", "https://"+r.Host+r.URL.RequestURI())
				w.WriteHeader(http.StatusMovedPermanently)
				return
			}
			if st.secure && s.SecureHSTSSeconds > 0 {
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

// SafeRedirect redirects to target (a ?next= value, say) when it is a URL
// of this site, checked with URLHasAllowedHostAndScheme against the
// request's Host (https required on an HTTPS request), and to fallback
// otherwise: the open-redirect guard Django's LoginView applies to next.
func (r *Request) SafeRedirect(w http.ResponseWriter, target, fallback string) error {
	if !URLHasAllowedHostAndScheme(target, []string{r.Host}, r.secure) {
		target = fallback
	}
	return r.Redirect(w, target)
}
