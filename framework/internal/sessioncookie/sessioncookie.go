// Package sessioncookie is the wire format of the framework's sessions,
// Django's signed_cookies backend: a session's payload (its values, flash
// messages, CSRF secret, key and expiry) as JSON in the cookie, signed with
// HMAC-SHA256 under keys derived from secret_key and its fallbacks, and the
// session's Set-Cookie line. It stands alone because it is the codec of a
// cookie, with no request in it: the framework's Session decides when to
// read it and when to send it. The flash message type lives here because
// the payload carries it; the framework re-exports it.
package sessioncookie

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"hash"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/stack-web/stack/framework/internal/csrf"
)

// MaxSize is what browsers keep of one cookie.
const MaxSize = 4096

// Store signs and checks session cookies.
type Store struct {
	Name   string    // the cookie's name (session_cookie_name)
	MaxAge int       // its Max-Age and the sessions' lifetime, in seconds (session_cookie_age)
	Secure bool      // Secure on every response (session_cookie_secure)
	keys   []*signer // keys[0] signs; all are accepted (secret_key_fallbacks)
	// cookieTail is what http.Cookie.String writes after a session's
	// value ("; Path=/; Max-Age=...; HttpOnly; SameSite=Lax"), without and
	// with Secure; "" when a saved session's line cannot be built so.
	cookieTail [2]string
}

// New returns the store for cookies called name, living maxAge seconds
// (Secure on every response with secure), signed under secrets[0] and
// accepted under any of secrets (secret_key, then secret_key_fallbacks).
func New(name string, maxAge int, secure bool, secrets []string) *Store {
	store := &Store{Name: name, MaxAge: maxAge, Secure: secure}
	for _, k := range secrets {
		store.keys = append(store.keys, &signer{key: deriveSessionKey(k)})
	}
	store.cookieTail = [2]string{store.tail(false), store.tail(true)}
	return store
}

// tail returns what follows the value in the Set-Cookie line of a saved
// session, as http.Cookie.String writes it, or "" if the name or the age
// make that line other than name=value+tail.
func (store *Store) tail(secure bool) string {
	if store.MaxAge <= 0 {
		return ""
	}
	const v = "v"
	line := store.Cookie(v, secure).String()
	head := store.Name + "=" + v
	if !strings.HasPrefix(line, head) {
		return ""
	}
	return line[len(head):]
}

// Cookie is the session cookie with value.
func (store *Store) Cookie(value string, secure bool) *http.Cookie {
	return &http.Cookie{Name: store.Name, Value: value, Path: "/", MaxAge: store.MaxAge, HttpOnly: true, Secure: secure, SameSite: http.SameSiteLaxMode}
}

// SetCookieLine is the Set-Cookie line of a saved session whose value is v
// (base64url and a dot: nothing http.Cookie would quote or drop).
func (store *Store) SetCookieLine(v string, secure bool) string {
	i := 0
	if secure {
		i = 1
	}
	if tail := store.cookieTail[i]; tail != "" {
		return store.Name + "=" + v + tail
	}
	return store.Cookie(v, secure).String()
}

// deriveSessionKey derives the session-signing key from a secret key, so
// the secret itself signs nothing directly.
func deriveSessionKey(secret string) []byte {
	mac := hmac.New(sha256.New, []byte(secret))
	io.WriteString(mac, "stack/framework/sessions")
	return mac.Sum(nil)
}

// Data is the cookie's JSON payload.
type Data struct {
	Values   map[string]any `json:"v,omitempty"`
	Messages []Message      `json:"m,omitempty"`
	// Dropped counts the oldest messages dropped to keep the cookie
	// small, Django's CookieStorage not_finished sentinel made a number.
	Dropped int    `json:"md,omitempty"`
	CSRF    string `json:"c,omitempty"`
	Key     string `json:"k,omitempty"` // a random id, new at each CycleKey
	Expires int64  `json:"e"`
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
func (store *Store) sign(k *signer, payload string) []byte {
	mac, _ := k.macs.Get().(hash.Hash)
	if mac == nil {
		mac = hmac.New(sha256.New, k.key)
	}
	mac.Reset()
	io.WriteString(mac, store.Name)
	mac.Write([]byte{0})
	io.WriteString(mac, payload)
	sum := mac.Sum(nil)
	k.macs.Put(mac)
	return sum
}

// Decode checks and decodes a cookie value "base64(json).base64(mac)".
func (store *Store) Decode(value string, now int64) (Data, bool) {
	var d Data
	if len(value) > 2*MaxSize {
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
		return Data{}, false
	}
	return d, true
}

// Encode signs d into a cookie value.
func (store *Store) Encode(d Data) (string, error) {
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
func appendPlainSession(b []byte, d Data) ([]byte, bool) {
	if len(d.Values) > 0 || len(d.Messages) > 0 || d.Dropped != 0 || !csrf.ValidChars(d.CSRF) || !csrf.ValidChars(d.Key) {
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
