package admin

import (
	"bytes"
	"embed"
	"encoding/json"
	"html/template"
	"io/fs"
	"net/http"
	"sync"
)

// The status page: rendered once on the server (so it reads without
// JavaScript, and a headless browser's first DOM has every worker), then
// refreshed by assets/status.js polling /status.json. Everything it needs
// is embedded: no CDN, no font, no library.

//go:embed assets
var assets embed.FS

var assetsFS, _ = fs.Sub(assets, "assets")

// pageTmpl is parsed on first use, not in every process at start.
var pageTmpl = sync.OnceValue(func() *template.Template {
	return template.Must(template.ParseFS(assets, "assets/status.html"))
})

// pageData is Status plus its JSON for the script's first render.
type pageData struct {
	Status
	JSON template.JS
}

func (s *Server) statusPage(w http.ResponseWriter, r *http.Request) {
	st := s.Status()
	j, _ := json.Marshal(st)
	var b bytes.Buffer
	if err := pageTmpl().Execute(&b, pageData{Status: st, JSON: template.JS(j)}); err != nil {
		writeText(w, http.StatusInternalServerError, err.Error()+"\n")
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'")
	w.Write(b.Bytes())
}
