package framework

import (
	"bytes"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// unknownLength hides a body's length, as a chunked request does, so that
// the limit is enforced while reading, not from Content-Length.
type unknownLength struct{ io.Reader }

func TestBodyLimits(t *testing.T) {
	s := testSettings()
	s.MaxBodySize = 100
	app := fixture(t, s, &logBuffer{})
	c := newClient(t, app)
	tok := formToken(t, c, "/form/")

	big := strings.Repeat("x", 200)
	var mp bytes.Buffer
	mw := multipart.NewWriter(&mp)
	mw.WriteField("csrfmiddlewaretoken", tok)
	mw.WriteField("x", big)
	mw.Close()

	tests := []struct {
		name, target, ctype string
		body                string
		chunked             bool
		status              int
		want                string
	}{
		{"form over the limit (CSRF parses it)", "/submit/", "application/x-www-form-urlencoded", "csrfmiddlewaretoken=" + tok + "&x=" + big, false, 413, "request body too large"},
		{"form over the limit, unknown length", "/submit/", "application/x-www-form-urlencoded", "csrfmiddlewaretoken=" + tok + "&x=" + big, true, 413, "request body too large"},
		{"multipart over the limit", "/submit/", mw.FormDataContentType(), mp.String(), false, 413, "request body too large"},
		{"multipart over the limit, unknown length", "/submit/", mw.FormDataContentType(), mp.String(), true, 413, "request body too large"},
		{"form in a view over the limit", "/rawform/", "application/x-www-form-urlencoded", "x=" + big, true, 413, "request body too large"},
		{"form within the limit", "/submit/", "application/x-www-form-urlencoded", "csrfmiddlewaretoken=" + tok + "&x=y", false, 200, "ok y"},
		{"JSON over the limit", "/json/", "application/json", `{"x":"` + big + `"}`, false, 413, "request body too large"},
		{"JSON over the limit, unknown length", "/json/", "application/json", `{"x":"` + big + `"}`, true, 413, "request body too large"},
		{"JSON within the limit", "/json/", "application/json", `{"x":"y"}`, false, 201, `{"x":"y"}`},
		{"invalid JSON", "/json/", "application/json", `{"x":`, false, 400, "invalid JSON body"},
		{"two JSON values", "/json/", "application/json", `{} {}`, false, 400, "more than one value"},
		{"empty JSON body", "/json/", "application/json", ``, false, 400, "empty body"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body io.Reader = strings.NewReader(tt.body)
			if tt.chunked {
				body = unknownLength{body}
			}
			r := httptest.NewRequest("POST", tt.target, body)
			if tt.chunked {
				r.ContentLength = -1
			}
			r.Header.Set("Content-Type", tt.ctype)
			for _, ck := range c.cookies {
				r.AddCookie(ck)
			}
			w := httptest.NewRecorder()
			app.ServeHTTP(w, r)
			if w.Code != tt.status || !strings.Contains(w.Body.String(), tt.want) {
				t.Fatalf("status %d body %q; want %d with %q", w.Code, w.Body, tt.status, tt.want)
			}
		})
	}
}

func TestBodyLimitOff(t *testing.T) {
	s := testSettings()
	s.MaxBodySize = -1
	app := fixture(t, s, &logBuffer{})
	big := `{"x":"` + strings.Repeat("x", 4<<20) + `"}`
	r := httptest.NewRequest("POST", "/json/", strings.NewReader(big))
	w := httptest.NewRecorder()
	app.ServeHTTP(w, r)
	if w.Code != 201 {
		t.Fatalf("max_body_size -1: status %d, want 201", w.Code)
	}
}

func TestMultipartTempFilesRemoved(t *testing.T) {
	s := testSettings()
	s.MaxBodySize = 64 << 20
	var form *multipart.Form
	app := newApp(t, s, Config{Middleware: []Middleware{}, URLs: []Pattern{
		Path("up/", func(w http.ResponseWriter, r *Request) error {
			if _, err := r.FormValues(); err != nil {
				return err
			}
			form = r.MultipartForm
			return nil
		}, ""),
	}})
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, _ := mw.CreateFormFile("f", "big.bin")
	fw.Write(bytes.Repeat([]byte("z"), maxMemory+1024)) // spills to a temporary file
	mw.Close()
	r := httptest.NewRequest("POST", "/up/", &body)
	r.Header.Set("Content-Type", mw.FormDataContentType())
	w := httptest.NewRecorder()
	app.ServeHTTP(w, r)
	if w.Code != 200 || form == nil {
		t.Fatalf("upload: %d", w.Code)
	}
	if _, err := form.File["f"][0].Open(); err == nil {
		t.Fatal("the upload's temporary file still exists after the request")
	}
}
