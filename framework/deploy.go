package framework

import (
	"fmt"

	"github.com/stack-web/stack/framework/security"
)

// Warnings are what is accepted but should not be, with debug off: a weak
// secret_key (or fallback). `stack check` and `stack up` print them; New
// logs them.
func (s Settings) Warnings() []string {
	if s.Debug {
		return nil
	}
	var out []string
	if s.SecretKey != "" && security.WeakSecretKey(s.SecretKey) {
		out = append(out, s.key("secret_key")+": "+weakKeyText+" (security.W009)")
	}
	for i, k := range s.SecretKeyFallbacks {
		if security.WeakSecretKey(k) {
			out = append(out, fmt.Sprintf("%s[%d]: %s (security.W025)", s.key("secret_key_fallbacks"), i, weakKeyText))
		}
	}
	return out
}

const weakKeyText = "has less than 50 characters, less than 5 unique characters, or the prefix 'django-insecure-' of a key " +
	"Django's startproject generated: anyone who guesses or finds it can forge sessions " +
	"(generate one with `openssl rand -base64 48`)"

// key names a setting in stack.yaml: apps.<name>.<key>.
func (s Settings) key(k string) string {
	name := s.Name
	if name == "" {
		name = "<name>"
	}
	return "apps." + name + "." + k
}

// DeployWarnings are the findings of Django's `check --deploy` for these
// settings, each with Django's check id: debug on, a weak key, no
// allowed_hosts, no HTTPS redirect, no HSTS, a session cookie that may go
// over plain HTTP. `stack check --deploy` prints them.
func (s Settings) DeployWarnings() []string {
	var out []string
	add := func(k, msg, id string) { out = append(out, s.key(k)+": "+msg+" ("+id+")") }
	if s.Debug {
		add("debug", "is true: never deploy a site into production with debug on (it shows code, settings and requests to anyone)", "security.W018")
	}
	switch {
	case s.SecretKey == "":
		add("secret_key", "is empty: set a long random key (generate one with `openssl rand -base64 48`)", "security.W009")
	case security.WeakSecretKey(s.SecretKey):
		add("secret_key", weakKeyText, "security.W009")
	}
	for i, k := range s.SecretKeyFallbacks {
		if security.WeakSecretKey(k) {
			add(fmt.Sprintf("secret_key_fallbacks[%d]", i), weakKeyText, "security.W025")
		}
	}
	if len(s.AllowedHosts) == 0 {
		add("allowed_hosts", "is empty: with debug off every request gets 400; list the site's host names", "security.W020")
	}
	if !s.SecureSSLRedirect {
		add("secure_ssl_redirect", "is false: plain-HTTP requests are served instead of redirected to HTTPS "+
			"(set it true unless a proxy in front redirects already)", "security.W008")
	}
	if s.SecureHSTSSeconds <= 0 {
		add("secure_hsts_seconds", "is 0: browsers are not told to use HTTPS only (Strict-Transport-Security); "+
			"set it, e.g. 31536000, once the site works over HTTPS", "security.W004")
	}
	if !s.SessionCookieSecure {
		add("session_cookie_secure", "is false: the session cookie (which holds the CSRF secret) may be sent over plain HTTP, "+
			"where it can be stolen", "security.W012")
	}
	return out
}
