// Package errpage writes the edge's short, nginx-like error pages. It is
// shared by the edge's front and its static file handler, which answer
// the same errors the same way.
package errpage

import (
	"net/http"
	"strconv"
)

// Write answers status with a one-line text page.
func Write(w http.ResponseWriter, status int) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	// Framed by length, so that the answer is complete on the wire when a
	// lingering close takes the connection over.
	h.Set("Content-Length", strconv.Itoa(len(bodies[status])))
	w.WriteHeader(status)
	w.Write([]byte(bodies[status]))
}

var bodies = func() map[int]string {
	m := map[int]string{}
	for _, code := range []int{301, 400, 403, 404, 405, 408, 413, 414, 421, 429, 431, 500, 501, 502, 503, 504} {
		m[code] = strconv.Itoa(code) + " " + http.StatusText(code) + "\n"
	}
	return m
}()
