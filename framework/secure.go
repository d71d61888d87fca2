package framework

import (
	"net/http"

	"github.com/stack-web/stack/framework/security"
)

// HTTPS returns Django's SecurityMiddleware's HTTPS half for s (see
// security.HTTPS): secure_ssl_redirect's 301 to https and
// secure_hsts_seconds' Strict-Transport-Security. DefaultMiddleware
// includes it only when one of them is set, so a site without them pays
// nothing.
func HTTPS(s Settings) Middleware {
	return security.HTTPS(s.SecureSSLRedirect, s.SecureHSTSSeconds, s.TrustForwardedProto)
}

// SafeRedirect redirects to target (a ?next= value, say) when it is a URL
// of this site, checked with security.URLHasAllowedHostAndScheme against
// the request's Host (https required on an HTTPS request), and to
// fallback otherwise: the open-redirect guard Django's LoginView applies
// to next.
func (r *Request) SafeRedirect(w http.ResponseWriter, target, fallback string) error {
	if !security.URLHasAllowedHostAndScheme(target, []string{r.Host}, r.secure) {
		target = fallback
	}
	return r.Redirect(w, target)
}
