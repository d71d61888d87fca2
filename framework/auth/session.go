package auth

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/stack-web/stack/framework"
)

// Session keys, Django's.
const (
	sessionUserKey = "_auth_user_id"
	sessionHashKey = "_auth_user_hash"
)

// sessionHash ties a session to the password it logged in with, Django's
// get_session_auth_hash: an HMAC of the stored hash under the secret key.
func (a *Auth) sessionHash(u *User) string { return hashWith(a.secret, u) }

func hashWith(key []byte, u *User) string {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte("stack/framework/auth.session\x00"))
	mac.Write([]byte(u.password))
	return hex.EncodeToString(mac.Sum(nil))
}

// sessionHashOK checks a session's hash against the current key, then
// the fallbacks; a fallback's is replaced by the current key's.
func (a *Auth) sessionHashOK(s *framework.Session, u *User) bool {
	got := []byte(s.GetString(sessionHashKey))
	if hmac.Equal(got, []byte(a.sessionHash(u))) {
		return true
	}
	for _, k := range a.fallback {
		if hmac.Equal(got, []byte(hashWith(k, u))) {
			s.Set(sessionHashKey, a.sessionHash(u))
			return true
		}
	}
	return false
}

// Login makes u the session's user, Django's login(): a session that
// belonged to someone else is emptied first; the session key is cycled and
// the CSRF secret rotated (session fixation and token theft before login
// get nothing), and last_login is recorded.
func (a *Auth) Login(r *framework.Request, u *User) error {
	s := r.Session()
	if id, ok := s.GetInt(sessionUserKey); ok && (int64(id) != u.ID || !a.sessionHashOK(s, u)) {
		s.Clear()
	}
	s.CycleKey()
	s.Set(sessionUserKey, u.ID)
	s.Set(sessionHashKey, a.sessionHash(u))
	r.RotateCSRFToken()
	now := a.now()
	if _, err := a.db.ExecContext(r.Context(), `UPDATE auth_user SET last_login = ? WHERE id = ?`, now.Unix(), u.ID); err != nil {
		return err
	}
	u.LastLogin = now
	return nil
}

// Logout empties the session (its CSRF secret and messages too), Django's
// logout(). The session is a signed cookie, which a copy taken earlier
// (a stolen cookie) would still present: its key is recorded as ended,
// so that such a copy is anonymous too.
func (a *Auth) Logout(r *framework.Request) {
	s := r.Session()
	if key := s.Key(); key != "" {
		now := a.now()
		ctx := r.Context()
		if _, err := a.db.ExecContext(ctx, `DELETE FROM auth_session_ended WHERE until < ?`, now.Unix()); err != nil {
			a.logger.Error("forgetting expired logged-out sessions", "error", err)
		}
		if _, err := a.db.ExecContext(ctx, `INSERT OR REPLACE INTO auth_session_ended (key, until) VALUES (?, ?)`,
			key, now.Add(a.maxAge).Unix()); err != nil {
			a.logger.Error("recording a logged-out session", "error", err)
		}
	}
	s.Clear()
}

// ended reports whether the session with key was logged out.
func (a *Auth) ended(ctx context.Context, key string) (bool, error) {
	if key == "" {
		return false, nil
	}
	var one int
	err := a.db.QueryRowContext(ctx, `SELECT 1 FROM auth_session_ended WHERE key = ?`, key).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("auth: reading logged-out sessions: %w", err)
	}
	return true, nil
}

// userKey carries the user loaded by a middleware to the view below it.
type userKey struct{}

// User returns the session's user, or nil for an anonymous visitor (no
// query is made then), a user since deleted or deactivated, or a session
// whose password has changed since its login (which is then emptied).
func (a *Auth) User(r *framework.Request) (*User, error) {
	if u, ok := r.Context().Value(userKey{}).(*User); ok {
		return u, nil
	}
	s := r.Session()
	id, ok := s.GetInt(sessionUserKey)
	if !ok {
		return nil, nil
	}
	if gone, err := a.ended(r.Context(), s.Key()); err != nil {
		return nil, err
	} else if gone {
		s.Clear()
		return nil, nil
	}
	u, err := a.lookup(r.Context(), "id", id)
	if errors.Is(err, ErrNoUser) {
		s.Clear()
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if !u.IsActive || !a.sessionHashOK(s, u) {
		s.Clear()
		return nil, nil
	}
	return u, nil
}

// WithUser returns hr carrying u, so that User below answers without a
// second query.
func WithUser(hr *http.Request, u *User) *http.Request {
	return hr.WithContext(context.WithValue(hr.Context(), userKey{}, u))
}

// RedirectToLogin answers with a redirect to loginURL?next=<this URL>,
// Django's redirect_to_login.
func RedirectToLogin(w http.ResponseWriter, r *http.Request, loginURL string) {
	next := r.URL.RequestURI()
	if st := framework.FromRequest(r); st != nil && st.MountPrefix() != "" {
		next = st.MountPrefix() + next
	}
	http.Redirect(w, r, loginURL+"?"+url.Values{"next": {next}}.Encode(), http.StatusFound)
}

// LoginRequired sends anonymous visitors to loginURL (with ?next= to
// come back), Django's login_required; others go on, with their user
// available from User at no further cost.
func (a *Auth) LoginRequired(loginURL string) framework.Middleware {
	return a.PermissionRequired("", loginURL)
}

// PermissionRequired is LoginRequired that also wants permission perm
// (Django's permission_required; "" for none): a logged-in user without
// it gets 403.
func (a *Auth) PermissionRequired(perm, loginURL string) framework.Middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, hr *http.Request) {
			st := framework.FromRequest(hr)
			if st == nil {
				http.Error(w, "500 Internal Server Error: auth middleware outside a framework app", http.StatusInternalServerError)
				return
			}
			u, err := a.User(st)
			if err != nil {
				a.logger.Error("reading the session's user", "error", err)
				http.Error(w, "500 Internal Server Error", http.StatusInternalServerError)
				return
			}
			if u == nil {
				RedirectToLogin(w, hr, loginURL)
				return
			}
			if perm != "" && !u.HasPerm(perm) {
				http.Error(w, "403 Forbidden", http.StatusForbidden)
				return
			}
			next.ServeHTTP(w, WithUser(hr, u))
		})
	}
}
