package framework

import (
	"bytes"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stack-web/stack/framework/forms"
)

// repeatedApp serves, over a real socket, views that print what each
// accessor gives for fields sent more than once.
func repeatedApp(t *testing.T) *httptest.Server {
	t.Helper()
	s := testSettings()
	s.AllowedHosts = append(s.AllowedHosts, "127.0.0.1")
	show := func(w http.ResponseWriter, r *Request) error {
		form, err := r.FormValues()
		if err != nil {
			return err
		}
		f := forms.New(forms.Field{Name: "b"}).Bind(form)
		f.IsValid()
		q := r.Query()
		_, err = io.WriteString(w, strings.Join([]string{
			"query.Get=" + q.Get("a"),
			"query.GetList=" + strings.Join(q.GetList("a"), ","),
			"form.Get=" + form.Get("b"),
			"form.GetList=" + strings.Join(form.GetList("b"), ","),
			"FormValue(a)=" + r.FormValue("a"),
			"FormValue(b)=" + r.FormValue("b"),
			"PostFormValue=" + r.PostFormValue("b"),
			"forms.Cleaned=" + f.CleanedString("b"),
			"forms.Value=" + f.Value("b"),
		}, "\n"))
		return err
	}
	app := newApp(t, s, Config{URLs: []Pattern{
		Path("show/", show, "show").CSRFExempt(),
		Path("form/", func(w http.ResponseWriter, r *Request) error { return r.Render(w, "form.html", nil) }, "form"),
		Path("submit/", func(w http.ResponseWriter, r *Request) error { _, err := io.WriteString(w, "ok"); return err }, "submit").Methods(http.MethodPost),
	}, Apps: []AppConfig{{Name: "t", Templates: mapFS(fixtureTemplates)}}})
	srv := httptest.NewServer(app)
	t.Cleanup(srv.Close)
	return srv
}

// Django's QueryDict gives a repeated field's last value to request.GET[k]
// and .get(k), and all of them to getlist(k): the framework's accessors
// gave the first, so a view ported from Django read another value.
func TestRepeatedFieldsGiveTheLastValueAsDjango(t *testing.T) {
	srv := repeatedApp(t)
	want := strings.Join([]string{
		"query.Get=2", "query.GetList=1,2",
		"form.Get=y", "form.GetList=x,y",
		"FormValue(a)=2", "FormValue(b)=y", "PostFormValue=y",
		"forms.Cleaned=y", "forms.Value=y",
	}, "\n")
	check := func(name, ct string, body []byte) {
		t.Helper()
		resp, got := readBody(t)(http.Post(srv.URL+"/show/?a=1&a=2", ct, bytes.NewReader(body)))
		if resp.StatusCode != 200 || got != want {
			t.Errorf("%s: %d\n%s\nwant\n%s", name, resp.StatusCode, got, want)
		}
	}
	check("urlencoded", "application/x-www-form-urlencoded", []byte("b=x&b=y"))
	var mp bytes.Buffer
	mw := multipart.NewWriter(&mp)
	mw.WriteField("b", "x")
	mw.WriteField("b", "y")
	mw.Close()
	check("multipart", mw.FormDataContentType(), mp.Bytes())
}

// The CSRF middleware reads the token field as Django's
// request.POST.get does, the last one: a form whose last token is right
// passes, one whose last token is wrong is refused.
func TestCSRFTokenIsTheLastOfRepeatedFields(t *testing.T) {
	srv := repeatedApp(t)
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	_, page := readBody(t)(c.Get(srv.URL + "/form/"))
	m := tokenRE.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no token in %s", page)
	}
	good, bad := m[1], strings.Repeat("a", len(m[1]))
	for _, tc := range []struct {
		tokens []string
		status int
	}{
		{[]string{bad, good}, 200},
		{[]string{good, bad}, 403},
	} {
		resp, err := c.PostForm(srv.URL+"/submit/", url.Values{CSRFFieldName: tc.tokens})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("tokens %q: %d, want %d", tc.tokens, resp.StatusCode, tc.status)
		}
	}
}

// readBody reads a response's body, failing the test on a request error.
func readBody(t *testing.T) func(*http.Response, error) (*http.Response, string) {
	return func(resp *http.Response, err error) (*http.Response, string) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
}

func TestValuesMethods(t *testing.T) {
	v := Values{"a": {"1", "2"}, "e": {""}}
	if v.Get("a") != "2" || v.Get("none") != "" || v.Get("e") != "" {
		t.Errorf("Get: %q %q %q", v.Get("a"), v.Get("none"), v.Get("e"))
	}
	if !v.Has("e") || v.Has("none") || v.GetList("none") != nil {
		t.Error("Has/GetList of an empty or missing field")
	}
	if got := v.Encode(); got != "a=1&a=2&e=" {
		t.Errorf("Encode: %q", got)
	}
}
