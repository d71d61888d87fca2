package framework

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"hash"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/stack-web/stack/framework/internal/csrf"
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
	store := &sessionStore{name: s.SessionCookieName, maxAge: s.SessionCookieAge, secure: s.SessionCookieSecure}
	for _, k := range append([]string{secret}, s.SecretKeyFallbacks...) {
		store.keys = append(store.keys, &signer{key: deriveSessionKey(k)})
	}
	store.cookieTail = [2]string{store.tail(false), store.tail(true)}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			st, w, r := stateFor(w, r)
			st.sessions = store
			next.ServeHTTP(w, r)
			if !st.rw.wrote {
				// The view wrote nothing: net/http sends the headers after
				// we return, so the cookie still fits in.
				store.save(st, w.Header(), http.StatusOK)
			}
		})
	}
}

// maxCookieSize is what browsers keep of one cookie.
const maxCookieSize = 4096

// sessionStore signs and checks session cookies.
type sessionStore struct {
	name   string
	keys   []*signer // keys[0] signs; all are accepted (secret_key_fallbacks)
	maxAge int
	secure bool // Secure on every response (session_cookie_secure)
	// cookieTail is what http.Cookie.String writes after a session's
	// value ("; Path=/; Max-Age=...; HttpOnly; SameSite=Lax"), without and
	// with Secure; "" when a saved session's line cannot be built so.
	cookieTail [2]string
}

// tail returns what follows the value in the Set-Cookie line of a saved
// session, as http.Cookie.String writes it, or "" if the name or the age
// make that line other than name=value+tail.
func (store *sessionStore) tail(secure bool) string {
	if store.maxAge <= 0 {
		return ""
	}
	const v = "v"
	line := store.cookie(v, secure).String()
	head := store.name + "=" + v
	if !strings.HasPrefix(line, head) {
		return ""
	}
	return line[len(head):]
}

// cookie is the session cookie with value.
func (store *sessionStore) cookie(value string, secure bool) *http.Cookie {
	return &http.Cookie{Name: store.name, Value: value, Path: "/", MaxAge: store.maxAge, HttpOnly: true, Secure: secure, SameSite: http.SameSiteLaxMode}
}

// setCookieLine is the Set-Cookie line of a saved session whose value is v
// (base64url and a dot: nothing http.Cookie would quote or drop).
func (store *sessionStore) setCookieLine(v string, secure bool) string {
	i := 0
	if secure {
		i = 1
	}
	if tail := store.cookieTail[i]; tail != "" {
		return store.name + "=" + v + tail
	}
	return store.cookie(v, secure).String()
}

// deriveSessionKey derives the session-signing key from a secret key, so
// the secret itself signs nothing directly.
func deriveSessionKey(secret string) []byte {
	mac := hmac.New(sha256.New, []byte(secret))
	io.WriteString(mac, "stack/framework/sessions")
	return mac.Sum(nil)
}

// sessionData is the cookie's JSON payload.
type sessionData struct {
	Values   map[string]any `json:"v,omitempty"`
	Messages []Message      `json:"m,omitempty"`
	CSRF     string         `json:"c,omitempty"`
	Key      string         `json:"k,omitempty"` // a random id, new at each CycleKey
	Expires  int64          `json:"e"`
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
	data      sessionData
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
	s.data = sessionData{}
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
	return len(s.data.Values) == 0 && len(s.data.Messages) == 0 && s.data.CSRF == ""
}

// load reads the session cookie, once.
func (s *Session) load() {
	s.loaded = true
	store := s.st.sessions
	if store == nil {
		return
	}
	c, err := s.st.Request.Cookie(store.name)
	if err != nil {
		return
	}
	s.hadCookie = true
	if d, ok := store.decode(c.Value, time.Now().Unix()); ok {
		s.data = d
	}
}

// signer is one session-signing key, with its HMACs kept for reuse: a new
// one costs two SHA-256 states and the padded key, on every page that
// sets or reads a session.
type signer struct {
	key  []byte
	macs sync.Pool // of hash.Hash, HMAC-SHA256 under key
}

// sign returns the MAC of a cookie payload under k; the cookie name is
// part of what is signed, so a value cannot be replayed under another cookie.
func (store *sessionStore) sign(k *signer, payload string) []byte {
	mac, _ := k.macs.Get().(hash.Hash)
	if mac == nil {
		mac = hmac.New(sha256.New, k.key)
	}
	mac.Reset()
	io.WriteString(mac, store.name)
	mac.Write([]byte{0})
	io.WriteString(mac, payload)
	sum := mac.Sum(nil)
	k.macs.Put(mac)
	return sum
}

// decode checks and decodes a cookie value "base64(json).base64(mac)".
func (store *sessionStore) decode(value string, now int64) (sessionData, bool) {
	var d sessionData
	if len(value) > 2*maxCookieSize {
		return d, false
	}
	i := strings.LastIndexByte(value, '.')
	if i < 0 {
		return d, false
	}
	payload := value[:i]
	sig, err := base64.RawURLEncoding.DecodeString(value[i+1:])
	if err != nil {
		return d, false
	}
	ok := false
	for _, k := range store.keys { // the current key, then the fallbacks
		if hmac.Equal(sig, store.sign(k, payload)) {
			ok = true
			break
		}
	}
	if !ok {
		return d, false
	}
	raw, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return d, false
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&d); err != nil || d.Expires <= now {
		return sessionData{}, false
	}
	return d, true
}

// encode signs d into a cookie value.
func (store *sessionStore) encode(d sessionData) (string, error) {
	raw, ok := appendPlainSession(make([]byte, 0, 40+len(d.CSRF)+len(d.Key)), d)
	if !ok {
		var err error
		if raw, err = json.Marshal(d); err != nil {
			return "", err
		}
	}
	payload := base64.RawURLEncoding.EncodeToString(raw)
	return payload + "." + base64.RawURLEncoding.EncodeToString(store.sign(store.keys[0], payload)), nil
}

// appendPlainSession appends the JSON of a session that holds no values
// and no messages, only a CSRF secret and a key made of token characters (an
// anonymous visitor's first form): byte for byte what json.Marshal writes,
// without its reflection. It reports false for any other session.
func appendPlainSession(b []byte, d sessionData) ([]byte, bool) {
	if len(d.Values) > 0 || len(d.Messages) > 0 || !csrf.ValidChars(d.CSRF) || !csrf.ValidChars(d.Key) {
		return b, false
	}
	b = append(b, '{')
	if d.CSRF != "" {
		b = append(b, `"c":"`...)
		b = append(b, d.CSRF...)
		b = append(b, `",`...)
	}
	if d.Key != "" {
		b = append(b, `"k":"`...)
		b = append(b, d.Key...)
		b = append(b, `",`...)
	}
	b = append(b, `"e":`...)
	b = strconv.AppendInt(b, d.Expires, 10)
	return append(b, '}'), true
}

// save adds the Set-Cookie header for a modified session, once, just
// before the response's headers are written with status.
func (store *sessionStore) save(st *Request, h http.Header, status int) {
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
	secure := st.secure || store.secure
	if s.empty() {
		if !s.hadCookie {
			return
		}
		c := store.cookie("", secure)
		c.MaxAge = -1
		h.Add("Set-Cookie", c.String())
		return
	}
	s.data.Expires = time.Now().Unix() + int64(store.maxAge)
	v, err := store.encode(s.data)
	if err != nil {
		st.logger().LogAttrs(st.Context(), slog.LevelError, "session not saved: a value cannot be encoded as JSON",
			slog.String("path", st.URL.Path), slog.Any("error", err))
		return
	}
	if len(v) > maxCookieSize-len(store.name)-1 {
		st.logger().LogAttrs(st.Context(), slog.LevelWarn, "session cookie too large: browsers will drop it",
			slog.String("path", st.URL.Path), slog.Int("bytes", len(v)))
	}
	h.Add("Set-Cookie", store.setCookieLine(v, secure))
}

// logger is the App's logger, or one that discards for middleware used
// without an App.
func (r *Request) logger() *slog.Logger {
	if r.app != nil {
		return r.app.logger
	}
	return slog.New(slog.DiscardHandler)
}
