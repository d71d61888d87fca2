package auth

import (
	"errors"
	"net"
	"net/http"

	"github.com/stack-web/stack/framework"
	"github.com/stack-web/stack/framework/forms"
)

// LoginFields are Django's AuthenticationForm: username and password.
var LoginFields = []forms.Field{
	{Name: "username", Kind: forms.Char, Required: true, MaxLength: 150},
	{Name: "password", Kind: forms.Char, Required: true, Widget: "password"},
}

// Messages of the login form, Django's.
const (
	MsgInvalidLogin = "Please enter a correct username and password. Note that both fields may be case-sensitive."
	MsgThrottled    = "Too many failed login attempts. Try again later."
)

// ClientAddr is the client's IP for throttling: the host of RemoteAddr
// (which the app server sets from the edge's REMOTE_ADDR).
func ClientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// LoginAttempt validates a submitted login form and authenticates it: it
// returns the user, or the form with the errors to show (a throttled
// attempt also gets status 429). extra, if set, vets an authenticated user
// (the admin wants staff) and returns the message to show instead.
func (a *Auth) LoginAttempt(r *framework.Request, extra func(*User) string) (*User, *forms.Form, int, error) {
	data, err := r.FormValues()
	if err != nil {
		return nil, nil, 0, err
	}
	f := forms.New(LoginFields...).Bind(data)
	if !f.IsValid() {
		return nil, f, http.StatusOK, nil
	}
	u, err := a.Authenticate(r.Context(), f.CleanedString("username"), f.CleanedString("password"), ClientAddr(r.Request))
	switch {
	case errors.Is(err, ErrThrottled):
		f.AddError(forms.NonFieldErrors, MsgThrottled)
		return nil, f, http.StatusTooManyRequests, nil
	case errors.Is(err, ErrInvalidLogin):
		f.AddError(forms.NonFieldErrors, MsgInvalidLogin)
		return nil, f, http.StatusOK, nil
	case err != nil:
		return nil, nil, 0, err
	}
	if extra != nil {
		if msg := extra(u); msg != "" {
			f.AddError(forms.NonFieldErrors, msg)
			return nil, f, http.StatusOK, nil
		}
	}
	return u, f, 0, nil
}

// LoginView is Django's LoginView: GET shows template with "form" (the
// login form) and "next"; a valid POST logs in and redirects to next when
// it is a URL of this site (SafeRedirect), else to success.
func (a *Auth) LoginView(template, success string) framework.View {
	return func(w http.ResponseWriter, r *framework.Request) error {
		next := r.Query().Get("next")
		if r.Method != http.MethodPost {
			return r.Render(w, template, framework.Context{"form": forms.New(LoginFields...), "next": next})
		}
		u, f, status, err := a.LoginAttempt(r, nil)
		if err != nil {
			return err
		}
		if u == nil {
			if data, _ := r.FormValues(); data.Get("next") != "" {
				next = data.Get("next")
			}
			return r.RenderStatus(w, status, template, framework.Context{"form": f, "next": next})
		}
		if err := a.Login(r, u); err != nil {
			return err
		}
		if data, _ := r.FormValues(); data.Get("next") != "" {
			next = data.Get("next")
		}
		return r.SafeRedirect(w, next, success)
	}
}

// LogoutView is Django's LogoutView: a POST (a GET could be forged by any
// page's <img>) empties the session and redirects to next.
func (a *Auth) LogoutView(next string) framework.View {
	return func(w http.ResponseWriter, r *framework.Request) error {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			return framework.StatusError(http.StatusMethodNotAllowed, "log out with a POST")
		}
		a.Logout(r)
		return r.Redirect(w, next)
	}
}
