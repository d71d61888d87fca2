package debugpage

import (
	"net/http/httptest"
	"strings"
	"testing"
)

func TestSettingsRowsMaskSecrets(t *testing.T) {
	type settings struct {
		Debug    bool   `yaml:"debug"`
		Key      string `yaml:"secret_key"`
		Database string `yaml:"database"`
		Name     string `yaml:"-"`
	}
	rows := SettingsRows(settings{Debug: true, Key: "hunter2", Database: "postgres://u:pw@db/x?password=pw2", Name: "n"})
	got := map[string]string{}
	for _, r := range rows {
		got[r[0]] = r[1]
	}
	if len(rows) != 3 || got["debug"] != "true" || got["secret_key"] != cleansed {
		t.Fatalf("rows = %v", rows)
	}
	if db := got["database"]; strings.Contains(db, "pw") || !strings.Contains(db, "db/x") {
		t.Fatalf("database = %q: the passwords must be masked", db)
	}
}

func TestWrite500MasksSensitiveHeaders(t *testing.T) {
	r := httptest.NewRequest("GET", "/x?<b>", nil)
	r.Header.Set("X-Api-Key", "k3y")
	r.Header.Set("Accept", "<text>")
	w := httptest.NewRecorder()
	Write500(w, r, "boom <script>", nil, nil)
	body := w.Body.String()
	if w.Code != 500 || strings.Contains(body, "k3y") || strings.Contains(body, "<script>") || !strings.Contains(body, "&lt;text&gt;") {
		t.Fatalf("%d %s", w.Code, body)
	}
	if w.Header().Get("Cache-Control") != "no-store" {
		t.Fatalf("headers %v", w.Header())
	}
}
