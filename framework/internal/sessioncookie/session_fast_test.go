package sessioncookie

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stack-web/stack/framework/internal/csrf"
)

// The session's hand-written JSON (an anonymous visitor's CSRF secret) is
// byte for byte json.Marshal's, and anything else goes to json.Marshal.
func TestSessionPlainJSONIsMarshals(t *testing.T) {
	tok := csrf.NewSecret()
	for _, d := range []Data{
		{CSRF: tok, Expires: 1764470000},
		{CSRF: tok, Key: csrf.NewSecret(), Expires: 1},
		{Key: tok, Expires: -5},
		{Expires: 0},
		{CSRF: `a"b`, Expires: 1},
		{CSRF: "é", Expires: 1},
		{CSRF: "a<b>&", Expires: 1},
		{CSRF: tok, Values: map[string]any{"x": 1}, Expires: 1},
		{CSRF: tok, Messages: []Message{{Text: "hi"}}, Expires: 1},
	} {
		want, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := appendPlainSession(nil, d)
		plain := len(d.Values) == 0 && len(d.Messages) == 0 && csrf.ValidChars(d.CSRF) && csrf.ValidChars(d.Key)
		if ok != plain || ok && string(got) != string(want) {
			t.Errorf("%+v: %q %v, want %q (plain %v)", d, got, ok, want, plain)
		}
	}
}

// The session's Set-Cookie line is what http.Cookie.String writes, for
// every name, age and Secure, including names http.Cookie refuses.
func TestSessionCookieLineIsHTTPCookies(t *testing.T) {
	v := "eyJjIjoiYWJjIiwiZSI6MX0.c2lnbmF0dXJl-_"
	for _, name := range []string{"sessionid", "my_session", "bad name", "a;b", ""} {
		for _, age := range []int{1209600, 1, 0, -1} {
			store := &Store{Name: name, MaxAge: age}
			store.cookieTail = [2]string{store.tail(false), store.tail(true)}
			for _, secure := range []bool{false, true} {
				want := (&http.Cookie{Name: name, Value: v, Path: "/", MaxAge: age, HttpOnly: true, Secure: secure, SameSite: http.SameSiteLaxMode}).String()
				if got := store.SetCookieLine(v, secure); got != want {
					t.Errorf("name %q age %d secure %v:\n got %q\nwant %q", name, age, secure, got, want)
				}
			}
		}
	}
}
