package uwsgi

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
)

// nginxVars are the variables nginx 1.22 sends with Debian's uwsgi_params
// for "POST /a%20b/c?x=1&y=%2F HTTP/1.1" from 10.0.0.7:51234.
func nginxVars() Vars {
	return Vars{
		{"QUERY_STRING", "x=1&y=%2F"},
		{"REQUEST_METHOD", "POST"},
		{"CONTENT_TYPE", "application/json"},
		{"CONTENT_LENGTH", "2"},
		{"REQUEST_URI", "/a%20b/c?x=1&y=%2F"},
		{"PATH_INFO", "/a b/c"},
		{"DOCUMENT_ROOT", "/usr/share/nginx/html"},
		{"SERVER_PROTOCOL", "HTTP/1.1"},
		{"REQUEST_SCHEME", "http"},
		{"REMOTE_ADDR", "10.0.0.7"},
		{"REMOTE_PORT", "51234"},
		{"SERVER_PORT", "8000"},
		{"SERVER_NAME", "example.org"},
		{"HTTP_HOST", "example.org:8000"},
		{"HTTP_USER_AGENT", "curl/8"},
		{"HTTP_X_MULTI", "a, b"},
		{"HTTP_X_SOME_CUSTOM_THING", "v"},
		{"HTTP_CONTENT_TYPE", "application/json"},
		{"HTTP_CONTENT_LENGTH", "2"},
		{"UWSGI_FILE", "exec://rm -rf /"},
	}
}

func TestNewRequestFromNginxVars(t *testing.T) {
	r, err := NewRequest(context.Background(), Packet{Vars: nginxVars()}, io.NopCloser(strings.NewReader("{}")))
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct{ name, got, want string }{
		{"Method", r.Method, "POST"},
		{"URL.Path", r.URL.Path, "/a b/c"},
		{"EscapedPath", r.URL.EscapedPath(), "/a%20b/c"},
		{"RawQuery", r.URL.RawQuery, "x=1&y=%2F"},
		{"Query y", r.URL.Query().Get("y"), "/"},
		{"RequestURI", r.RequestURI, "/a%20b/c?x=1&y=%2F"},
		{"Host", r.Host, "example.org:8000"},
		{"RemoteAddr", r.RemoteAddr, "10.0.0.7:51234"},
		{"Proto", r.Proto, "HTTP/1.1"},
		{"User-Agent", r.Header.Get("User-Agent"), "curl/8"},
		{"X-Multi", r.Header.Get("X-Multi"), "a, b"},
		{"X-Some-Custom-Thing", r.Header.Get("X-Some-Custom-Thing"), "v"},
		{"Content-Type", strings.Join(r.Header["Content-Type"], "|"), "application/json"},
		{"Content-Length", strings.Join(r.Header["Content-Length"], "|"), "2"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}
	if r.ContentLength != 2 || r.ProtoMajor != 1 || r.ProtoMinor != 1 {
		t.Errorf("ContentLength %d, proto %d.%d", r.ContentLength, r.ProtoMajor, r.ProtoMinor)
	}
	if r.TLS != nil {
		t.Error("plain http request has r.TLS set")
	}
	if _, ok := r.Header["Host"]; ok {
		t.Error("Host is in r.Header; Go servers keep it in r.Host only")
	}
	if len(r.Header["Uwsgi-File"]) != 0 {
		t.Error("UWSGI_FILE became a header")
	}
	body, _ := io.ReadAll(r.Body)
	if string(body) != "{}" {
		t.Errorf("body = %q", body)
	}
}

func TestNewRequestVariants(t *testing.T) {
	base := Vars{{"REQUEST_METHOD", "GET"}, {"SERVER_PROTOCOL", "HTTP/1.1"}}
	with := func(extra ...Var) Vars { return append(append(Vars{}, base...), extra...) }
	tests := []struct {
		name  string
		mod1  uint8
		vars  Vars
		check func(t *testing.T, r *http.Request)
		err   string
	}{
		{"request uri only", 0, with(Var{"REQUEST_URI", "/p%2Fq?a=1"}), func(t *testing.T, r *http.Request) {
			if r.URL.Path != "/p/q" || r.URL.RawPath != "/p%2Fq" || r.URL.RawQuery != "a=1" {
				t.Errorf("URL = %#v", r.URL)
			}
		}, ""},
		{"query from request uri when QUERY_STRING absent", 0, with(Var{"PATH_INFO", "/x"}, Var{"REQUEST_URI", "/x?k=v"}), func(t *testing.T, r *http.Request) {
			if r.URL.RawQuery != "k=v" {
				t.Errorf("RawQuery = %q", r.URL.RawQuery)
			}
		}, ""},
		{"normalised PATH_INFO wins over dot segments", 0, with(Var{"PATH_INFO", "/b"}, Var{"REQUEST_URI", "/a/../b"}), func(t *testing.T, r *http.Request) {
			if r.URL.Path != "/b" || r.URL.RawPath != "" || r.RequestURI != "/a/../b" {
				t.Errorf("Path %q RawPath %q RequestURI %q", r.URL.Path, r.URL.RawPath, r.RequestURI)
			}
		}, ""},
		{"CGI-style SCRIPT_NAME", 0, with(Var{"SCRIPT_NAME", "/app"}, Var{"PATH_INFO", "/x"}), func(t *testing.T, r *http.Request) {
			if r.URL.Path != "/app/x" || r.RequestURI != "/app/x" {
				t.Errorf("Path %q RequestURI %q", r.URL.Path, r.RequestURI)
			}
		}, ""},
		{"nginx-style SCRIPT_NAME", 0, with(Var{"SCRIPT_NAME", "/app"}, Var{"PATH_INFO", "/app/x"}), func(t *testing.T, r *http.Request) {
			if r.URL.Path != "/app/x" {
				t.Errorf("Path %q", r.URL.Path)
			}
		}, ""},
		{"modifier 30", ModifierWSGIStripScriptName, with(Var{"SCRIPT_NAME", "/app"}, Var{"PATH_INFO", "/app/x"}), func(t *testing.T, r *http.Request) {
			if r.URL.Path != "/app/x" {
				t.Errorf("Path %q", r.URL.Path)
			}
		}, ""},
		{"HTTPS on", 0, with(Var{"PATH_INFO", "/"}, Var{"HTTPS", "on"}), func(t *testing.T, r *http.Request) {
			if r.TLS == nil {
				t.Error("HTTPS=on: r.TLS is nil")
			}
		}, ""},
		{"UWSGI_SCHEME https", 0, with(Var{"PATH_INFO", "/"}, Var{"UWSGI_SCHEME", "https"}), func(t *testing.T, r *http.Request) {
			if r.TLS == nil {
				t.Error("UWSGI_SCHEME=https: r.TLS is nil")
			}
		}, ""},
		{"host from SERVER_NAME", 0, with(Var{"PATH_INFO", "/"}, Var{"SERVER_NAME", "h"}, Var{"SERVER_PORT", "81"}), func(t *testing.T, r *http.Request) {
			if r.Host != "h:81" {
				t.Errorf("Host = %q", r.Host)
			}
		}, ""},
		{"missing protocol is HTTP/1.0", 0, Vars{{"REQUEST_METHOD", "GET"}, {"PATH_INFO", "/"}}, func(t *testing.T, r *http.Request) {
			if r.Proto != "HTTP/1.0" {
				t.Errorf("Proto = %q", r.Proto)
			}
		}, ""},
		{"no method", 0, Vars{{"PATH_INFO", "/"}}, nil, "REQUEST_METHOD"},
		{"bad method", 0, Vars{{"REQUEST_METHOD", "G T"}, {"PATH_INFO", "/"}}, nil, "REQUEST_METHOD"},
		{"no path", 0, base, nil, "neither PATH_INFO nor REQUEST_URI"},
		{"relative path", 0, with(Var{"PATH_INFO", "x"}), nil, "does not start with /"},
		{"NUL in path", 0, with(Var{"PATH_INFO", "/a\x00b"}), nil, "NUL"},
		{"bad protocol", 0, Vars{{"REQUEST_METHOD", "GET"}, {"PATH_INFO", "/"}, {"SERVER_PROTOCOL", "HTTP/x"}}, nil, "SERVER_PROTOCOL"},
		{"negative length", 0, with(Var{"PATH_INFO", "/"}, Var{"CONTENT_LENGTH", "-1"}), nil, "CONTENT_LENGTH"},
		{"plus length", 0, with(Var{"PATH_INFO", "/"}, Var{"CONTENT_LENGTH", "+5"}), nil, "CONTENT_LENGTH"},
		{"huge length", 0, with(Var{"PATH_INFO", "/"}, Var{"CONTENT_LENGTH", "99999999999999999999"}), nil, "CONTENT_LENGTH"},
		{"header value with CRLF", 0, with(Var{"PATH_INFO", "/"}, Var{"HTTP_X_A", "a\r\nSet-Cookie: x"}), nil, "not a valid header"},
		{"header name with space", 0, with(Var{"PATH_INFO", "/"}, Var{"HTTP_X A", "a"}), nil, "not a valid header"},
		{"repeated header lines, as nginx 1.22 sends them", 0, with(Var{"PATH_INFO", "/"}, Var{"HTTP_X_MULTI", "a"}, Var{"HTTP_ACCEPT", "x"}, Var{"HTTP_X_MULTI", "b"}), func(t *testing.T, r *http.Request) {
			if got := strings.Join(r.Header["X-Multi"], "|"); got != "a|b" {
				t.Errorf("X-Multi = %q, want both values in order", got)
			}
		}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := NewRequest(context.Background(), Packet{Modifier1: tt.mod1, Vars: tt.vars}, nil)
			if tt.err != "" {
				if err == nil || !errors.Is(err, ErrBadRequest) || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want ErrBadRequest mentioning %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, r)
		})
	}
}

func TestEncodeRequestRoundTrip(t *testing.T) {
	body := "field=value"
	in, err := http.NewRequest("POST", "http://example.org:8000/%E4%B8%96/x%2Fy?q=1&q=2", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	in.RequestURI = "/%E4%B8%96/x%2Fy?q=1&q=2"
	in.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	in.Header["Cookie"] = []string{"a=1", "b=2"}
	in.Header["Accept"] = []string{"text/html", "application/json"}
	in.Header.Set("X-Custom", "yes")

	var e Encoder
	e.Reset(nil, ModifierWSGI, 0)
	EncodeRequest(&e, in, &Env{RemoteAddr: "127.0.0.1", RemotePort: "40000", ServerName: "example.org", ServerPort: "8000", Scheme: "https"})
	pkt, err := e.Bytes(DefaultBufferSize)
	if err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(io.MultiReader(bytes.NewReader(pkt), strings.NewReader(body)))
	p, err := ReadPacket(br, DefaultBufferSize, nil)
	if err != nil {
		t.Fatal(err)
	}
	wantVars := map[string]string{
		"REQUEST_METHOD": "POST", "QUERY_STRING": "q=1&q=2", "CONTENT_LENGTH": "11",
		"CONTENT_TYPE": "application/x-www-form-urlencoded", "REQUEST_URI": "/%E4%B8%96/x%2Fy?q=1&q=2",
		"PATH_INFO": "/世/x/y", "SERVER_PROTOCOL": "HTTP/1.1", "REQUEST_SCHEME": "https", "HTTPS": "on", "UWSGI_SCHEME": "https",
		"REMOTE_ADDR": "127.0.0.1", "REMOTE_PORT": "40000", "SERVER_NAME": "example.org", "SERVER_PORT": "8000",
		"HTTP_HOST": "example.org:8000", "HTTP_COOKIE": "a=1; b=2", "HTTP_ACCEPT": "text/html, application/json",
		"HTTP_X_CUSTOM": "yes",
	}
	for k, want := range wantVars {
		if got, ok := p.Vars.Get(k); !ok || got != want {
			t.Errorf("%s = %q (present %v), want %q", k, got, ok, want)
		}
	}
	for _, k := range []string{"HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH"} {
		if _, ok := p.Vars.Get(k); ok {
			t.Errorf("%s was sent; CGI sends only the unprefixed form", k)
		}
	}
	out, err := NewRequest(context.Background(), p, io.NopCloser(br))
	if err != nil {
		t.Fatal(err)
	}
	if out.URL.Path != "/世/x/y" || out.URL.EscapedPath() != "/%E4%B8%96/x%2Fy" {
		t.Errorf("path %q escaped %q", out.URL.Path, out.URL.EscapedPath())
	}
	if out.TLS == nil || out.Host != "example.org:8000" || out.RemoteAddr != "127.0.0.1:40000" {
		t.Errorf("TLS %v Host %q RemoteAddr %q", out.TLS != nil, out.Host, out.RemoteAddr)
	}
	if err := out.ParseForm(); err != nil {
		t.Fatal(err)
	}
	if out.PostForm.Get("field") != "value" || len(out.Form["q"]) != 2 {
		t.Errorf("form = %v", out.Form)
	}
}

func BenchmarkReadRequest(b *testing.B) {
	var e Encoder
	e.Reset(nil, 0, 0)
	for _, v := range nginxVars() {
		e.Add(v.Key, v.Value)
	}
	pkt, _ := e.Bytes(0)
	rd := bytes.NewReader(pkt)
	br := bufio.NewReaderSize(rd, 4096)
	ctx := context.Background()
	vars := make(Vars, 0, 64)
	b.ReportAllocs()
	for b.Loop() {
		rd.Reset(pkt)
		br.Reset(rd)
		p, err := ReadPacket(br, 0, vars)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := NewRequest(ctx, p, http.NoBody); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeRequest(b *testing.B) {
	r, _ := http.NewRequest("GET", "http://example.org/polls/1/?x=1", nil)
	r.Header.Set("User-Agent", "wrk")
	r.Header.Set("Accept", "*/*")
	env := &Env{RemoteAddr: "127.0.0.1", RemotePort: "5000", ServerName: "example.org", ServerPort: "8000"}
	var e Encoder
	buf := make([]byte, 0, 4096)
	b.ReportAllocs()
	for b.Loop() {
		e.Reset(buf, 0, 0)
		EncodeRequest(&e, r, env)
		if _, err := e.Bytes(0); err != nil {
			b.Fatal(err)
		}
	}
}
