package framework

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"time"

	"github.com/stack-web/stack/framework/internal/csrf"
	"github.com/stack-web/stack/framework/internal/sessioncookie"
)

// Sessions returns the session middleware, Django's SessionMiddleware with
// the signed_cookies backend: the session is JSON in a cookie, with its
// expiry, signed with HMAC-SHA256 under a key derived from
// s.SecretKey (a random per-process key when it is empty). A tampered,
// expired or malformed cookie is an empty session, never an error.
//
// The cookie is read only when a view (or CSRF, or messages) first uses the
// session, and sent back only when the session was modified: HttpOnly,
// SameSite=Lax, Secure on HTTPS, Max-Age s.SessionCookieAge. It is not
// saved on a 500, as in Django. Sessions must come before CSRF and
// Messages in the middleware list.
func Sessions(s Settings) Middleware {
	s = s.withDefaults()
	secret := s.SecretKey
	if secret == "" {
		secret = randomKey()
	}
	store := sessioncookie.New(s.SessionCookieName, s.SessionCookieAge, s.SessionCookieSecure,
		append([]string{secret}, s.SecretKeyFallbacks...))
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			st, w, r := stateFor(w, r)
			st.sessions = store
			next.ServeHTTP(w, r)
			if !st.rw.wrote {
				// The view wrote nothing: net/http sends the headers after
				// we return, so the cookie still fits in.
				saveSession(store, st, w.Header(), http.StatusOK)
			}
		})
	}
}

// Session is the current visitor's session, Django's request.session.
// Values go through JSON: a value read back in a later request is what
// encoding/json decodes (numbers are json.Number, structs are
// map[string]any), so prefer GetString and GetInt for scalars. Everything
// must fit in a cookie (about 4 KB): store ids, not objects.
type Session struct {
	st        *Request
	loaded    bool
	hadCookie bool
	modified  bool
	saved     bool
	data      sessioncookie.Data
}

// Session returns the session, reading the cookie on first use. Without
// the Sessions middleware it is a session of this request only.
func (r *Request) Session() *Session {
	s := &r.session
	if !s.loaded {
		s.st = r
		s.load()
	}
	return s
}

// Get returns the value stored under key, or nil.
func (s *Session) Get(key string) any { return s.data.Values[key] }

// GetString returns the string stored under key, or "".
func (s *Session) GetString(key string) string {
	v, _ := s.data.Values[key].(string)
	return v
}

// GetInt returns the integer stored under key.
func (s *Session) GetInt(key string) (int, bool) {
	switch v := s.data.Values[key].(type) {
	case int:
		return v, true
	case int64:
		return int(v), true
	case float64:
		return int(v), v == float64(int(v))
	case json.Number:
		n, err := v.Int64()
		return int(n), err == nil
	}
	return 0, false
}

// Set stores v (anything encoding/json can encode) under key.
func (s *Session) Set(key string, v any) {
	if s.data.Values == nil {
		s.data.Values = map[string]any{}
	}
	s.data.Values[key] = v
	s.modified = true
}

// Delete removes key.
func (s *Session) Delete(key string) {
	if _, ok := s.data.Values[key]; ok {
		delete(s.data.Values, key)
		s.modified = true
	}
}

// Clear empties the session, its messages and its CSRF secret, Django's
// session.flush() (at logout). The cookie is deleted.
func (s *Session) Clear() {
	s.data = sessioncookie.Data{}
	s.modified = true
}

// CycleKey gives the session a new identity and keeps its data, Django's
// cycle_key(): the cookie sent back differs from every earlier one, so a
// session id planted before login (session fixation) is not the one that
// ends up logged in. Login calls it.
func (s *Session) CycleKey() {
	s.data.Key = csrf.NewSecret()
	s.modified = true
}

// Key is the session's identity, new at each CycleKey ("" before the
// first): auth records it at logout, since a signed cookie cannot be
// taken back from whoever holds a copy.
func (s *Session) Key() string { return s.data.Key }

func (s *Session) empty() bool {
	return len(s.data.Values) == 0 && len(s.data.Messages) == 0 && s.data.Dropped == 0 && s.data.CSRF == ""
}

// load reads the session cookie, once.
func (s *Session) load() {
	s.loaded = true
	store := s.st.sessions
	if store == nil {
		return
	}
	c, err := s.st.Request.Cookie(store.Name)
	if err != nil {
		return
	}
	s.hadCookie = true
	if d, ok := store.Decode(c.Value, time.Now().Unix()); ok {
		s.data = d
	}
}

// saveSession adds the Set-Cookie header for a modified session, once,
// just before the response's headers are written with status.
func saveSession(store *sessioncookie.Store, st *Request, h http.Header, status int) {
	s := &st.session
	if s.saved {
		return
	}
	s.saved = true
	if s.loaded && st.sessions != nil {
		h.Add("Vary", "Cookie") // the response depends on who asked
	}
	if !s.modified || status == http.StatusInternalServerError {
		return
	}
	secure := st.secure || store.Secure
	if s.empty() {
		if !s.hadCookie {
			return
		}
		c := store.Cookie("", secure)
		c.MaxAge = -1
		h.Add("Set-Cookie", c.String())
		return
	}
	s.data.Expires = time.Now().Unix() + int64(store.MaxAge)
	v, err := store.Encode(s.data)
	if err == nil && len(v) > maxMessagesCookie && len(s.data.Messages) > 0 {
		v, err = st.fitMessages(store, len(v))
	}
	if err != nil {
		st.logger().LogAttrs(st.Context(), slog.LevelError, "session not saved: a value cannot be encoded as JSON",
			slog.String("path", st.URL.Path), slog.Any("error", err))
		return
	}
	if len(v) > sessioncookie.MaxSize-len(store.Name)-1 {
		st.logger().LogAttrs(st.Context(), slog.LevelWarn, "session cookie too large: browsers will drop it",
			slog.String("path", st.URL.Path), slog.Int("bytes", len(v)))
	}
	h.Add("Set-Cookie", store.SetCookieLine(v, secure))
}

// logger is the App's logger, or one that discards for middleware used
// without an App.
func (r *Request) logger() *slog.Logger {
	if r.app != nil {
		return r.app.logger
	}
	return slog.New(slog.DiscardHandler)
}
