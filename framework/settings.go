package framework

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"

	"github.com/stack-web/stack/framework/internal/pathcheck"
)

// Default values of the settings that have one, as Django's global_settings.
const (
	DefaultStaticURL         = "/static/"
	DefaultMaxBodySize       = 2621440 // 2.5 MiB, Django's DATA_UPLOAD_MAX_MEMORY_SIZE
	DefaultSessionCookieName = "sessionid"
	DefaultSessionCookieAge  = 1209600 // two weeks, in seconds
)

// Settings is the part of a Django settings.py that lives in configuration:
// the app's section of stack.yaml (apps.<name>), decoded by the project's
// config loader. Code-level choices (URL patterns, installed apps, the
// middleware list) are in [Config] instead.
//
// Zero values mean the defaults (see [DefaultSettings]), except Debug.
type Settings struct {
	// Name is the app's name in stack.yaml. It is not read from the file; the
	// config loader sets it so that error messages name the right keys.
	Name string `yaml:"-"`

	// Debug turns on detailed error pages, template reloading and static
	// file serving by the app itself. Never in production.
	Debug bool `yaml:"debug"`
	// SecretKey signs session cookies (and so ties CSRF tokens to them).
	// Required unless Debug; in debug an empty key is replaced by a random
	// one per process, so sessions do not survive a restart.
	SecretKey string `yaml:"secret_key"`
	// SecretKeyFallbacks are previous secret keys, Django's
	// SECRET_KEY_FALLBACKS: a session signed with one of them is still
	// accepted (and re-signed with SecretKey when next saved), so that the
	// key can be rotated without logging everyone out. Remove them after
	// session_cookie_age.
	SecretKeyFallbacks []string `yaml:"secret_key_fallbacks"`
	// AllowedHosts lists the Host header values the app serves, as Django's
	// ALLOWED_HOSTS: "example.com", ".example.com" (the domain and every
	// subdomain), "*" (any). In debug an empty list allows localhost,
	// 127.0.0.1 and [::1].
	AllowedHosts []string `yaml:"allowed_hosts"`
	// CSRFTrustedOrigins lists other origins whose unsafe requests are
	// accepted, as "https://example.com" or "https://*.example.com".
	CSRFTrustedOrigins []string `yaml:"csrf_trusted_origins"`
	// TrustForwardedProto makes a request with "X-Forwarded-Proto: https"
	// count as HTTPS (Django's SECURE_PROXY_SSL_HEADER). Only set it when
	// every request reaches the app through a proxy that sets or strips that
	// header; the uwsgi app server does not need it (it sets r.TLS).
	TrustForwardedProto bool `yaml:"trust_forwarded_proto"`
	// SecureSSLRedirect answers every plain-HTTP request with a 301 to its
	// https:// URL, Django's SECURE_SSL_REDIRECT.
	SecureSSLRedirect bool `yaml:"secure_ssl_redirect"`
	// SecureHSTSSeconds, when positive, sends Strict-Transport-Security
	// with this max-age on HTTPS responses, Django's SECURE_HSTS_SECONDS.
	SecureHSTSSeconds int `yaml:"secure_hsts_seconds"`
	// SessionCookieSecure marks the session cookie Secure on every
	// response, not only on HTTPS ones, Django's SESSION_COOKIE_SECURE.
	SessionCookieSecure bool `yaml:"session_cookie_secure"`

	// StaticURL is the URL prefix of static files, "/static/" by default; an
	// absolute URL ("https://cdn.example.com/static/") is allowed.
	StaticURL string `yaml:"static_url"`
	// TemplateDirs are project template folders, searched before the apps'
	// templates so that a project can override an app's page.
	TemplateDirs []string `yaml:"template_dirs"`
	// Database is the app's database (a path for SQLite). The framework does
	// not open it; apps read it from App.Settings.
	Database string `yaml:"database"`
	// DefaultDatabase is the SQLite file in run_dir that the app opens
	// when Database is empty (polls: polls.sqlite3), "" for an app with
	// no database of its own. The app's defaults set it, never the file:
	// it is here so that [Settings.DatabasePath] is the one place that
	// says which file the app opens, for the app and for `stack check`.
	DefaultDatabase string `yaml:"-"`

	// AppendSlash redirects GET /polls to /polls/ when only the latter
	// matches. Nil means true, as in Django.
	AppendSlash *bool `yaml:"append_slash"`
	// MaxBodySize bounds request bodies in bytes (2.5 MiB by default), file
	// uploads included (unlike Django's DATA_UPLOAD_MAX_MEMORY_SIZE); a
	// larger body gets 413 when it is read. -1 means no limit.
	MaxBodySize int64 `yaml:"max_body_size"`

	// SessionCookieName is the session cookie's name, "sessionid" by default.
	SessionCookieName string `yaml:"session_cookie_name"`
	// SessionCookieAge is the session lifetime in seconds, two weeks by default.
	SessionCookieAge int `yaml:"session_cookie_age"`
}

// DefaultSettings returns Settings with every default filled in, for a
// config loader that decodes over defaults.
func DefaultSettings() Settings {
	return Settings{}.withDefaults()
}

// withDefaults fills zero values with the defaults. It never generates the
// secret key: New does that, once, and says so in the log.
func (s Settings) withDefaults() Settings {
	if s.StaticURL == "" {
		s.StaticURL = DefaultStaticURL
	}
	if s.AppendSlash == nil {
		s.AppendSlash = new(true)
	}
	if s.MaxBodySize == 0 {
		s.MaxBodySize = DefaultMaxBodySize
	}
	if s.SessionCookieName == "" {
		s.SessionCookieName = DefaultSessionCookieName
	}
	if s.SessionCookieAge == 0 {
		s.SessionCookieAge = DefaultSessionCookieAge
	}
	return s
}

// appendSlash reports the effective APPEND_SLASH.
func (s Settings) appendSlash() bool { return s.AppendSlash == nil || *s.AppendSlash }

// Validate reports every problem with s at once (joined with errors.Join),
// each naming its key, so that `stack check` can list them all.
func (s Settings) Validate() error {
	name := s.Name
	if name == "" {
		name = "<name>"
	}
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("apps."+name+"."+format, args...))
	}
	if s.SecretKey == "" && !s.Debug {
		errs = append(errs, fmt.Errorf("secret_key is required when debug is false; set apps.%s.secret_key or STACK_APPS_%s_SECRET_KEY",
			name, strings.ToUpper(strings.ReplaceAll(name, "-", "_"))))
	}
	if len(s.AllowedHosts) == 0 && !s.Debug {
		bad("allowed_hosts is empty and debug is false: every request would get 400 (list the host names the app serves, or \"*\")")
	}
	for i, h := range s.AllowedHosts {
		if h == "" || strings.ContainsAny(h, "/ \t") || strings.Contains(h, "://") {
			bad("allowed_hosts[%d]: %q is not a host name (want example.com, .example.com or *)", i, h)
		}
	}
	for i, o := range s.CSRFTrustedOrigins {
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
			bad("csrf_trusted_origins[%d]: %q is not an origin (want https://example.com or https://*.example.com)", i, o)
		}
	}
	if s.StaticURL != "" && !strings.HasSuffix(s.StaticURL, "/") {
		bad("static_url: %q must end with /", s.StaticURL)
	}
	if s.StaticURL != "" && !strings.HasPrefix(s.StaticURL, "/") && !strings.HasPrefix(s.StaticURL, "http://") && !strings.HasPrefix(s.StaticURL, "https://") {
		bad("static_url: %q must be a path starting with / or an http(s) URL", s.StaticURL)
	}
	for i, d := range s.TemplateDirs {
		if d == "" {
			bad("template_dirs[%d] is empty", i)
		}
	}
	pathcheck.Check(s.TemplateDirs, s.Database, bad)
	if s.MaxBodySize < -1 {
		bad("max_body_size: %d is negative (use -1 for no limit)", s.MaxBodySize)
	}
	if s.SessionCookieName != "" && !validCookieName(s.SessionCookieName) {
		bad("session_cookie_name: %q is not a valid cookie name", s.SessionCookieName)
	}
	for i, k := range s.SecretKeyFallbacks {
		if k == "" {
			bad("secret_key_fallbacks[%d] is empty", i)
		}
	}
	if s.SecureHSTSSeconds < 0 {
		bad("secure_hsts_seconds: %d is negative", s.SecureHSTSSeconds)
	}
	if s.SessionCookieAge < 0 {
		bad("session_cookie_age: %d is negative", s.SessionCookieAge)
	}
	return errors.Join(errs...)
}

// ReadAtStart names the folders an app reads when its process starts (the
// template folders), so that `stack check` can test them as the workers'
// user (appserver.user) would open them.
func (s Settings) ReadAtStart() []string { return s.TemplateDirs }

// DatabasePath is the database the app opens with run_dir runDir:
// Database when set, else DefaultDatabase in runDir, else "".
func (s Settings) DatabasePath(runDir string) string {
	if s.Database != "" || s.DefaultDatabase == "" {
		return s.Database
	}
	return filepath.Join(runDir, s.DefaultDatabase)
}

// WriteAtStart names the files an app writes from its start, by the
// setting that names each: the SQLite database, the default in runDir
// included (a PostgreSQL URL is not a file), so that `stack check` can
// test it as the workers' user (appserver.user) would open it. SQLite
// writes its journal files beside the database, so its folder is written
// too.
func (s Settings) WriteAtStart(runDir string) map[string]string {
	db := s.DatabasePath(runDir)
	if !pathcheck.IsSQLiteFile(db) {
		return nil
	}
	return map[string]string{"database": db}
}

// validCookieName reports whether name is an RFC 6265 token, which is what
// net/http accepts as a cookie name.
func validCookieName(name string) bool {
	return (&http.Cookie{Name: name, Value: "x"}).Valid() == nil
}

// randomKey returns a fresh secret key for a debug process that has none.
func randomKey() string {
	var b [48]byte
	rand.Read(b[:]) // never fails (crypto/rand, Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b[:])
}
