package framework

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
)

// HTTPError is an error with an HTTP status, Django's Http404 and friends:
// a view returns one to answer with an error page instead of its response.
type HTTPError struct {
	Status  int    // the HTTP status code, 4xx or 5xx
	Message string // shown to the client in the page: short, no secrets
	Err     error  // the cause: logged, and shown only in debug
}

func (e *HTTPError) Error() string {
	s := strconv.Itoa(e.Status) + " " + http.StatusText(e.Status)
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the cause.
func (e *HTTPError) Unwrap() error { return e.Err }

// NotFound returns a 404 error, Django's raise Http404(message).
func NotFound(message string) error {
	return &HTTPError{Status: http.StatusNotFound, Message: message}
}

// BadRequest returns a 400 error.
func BadRequest(message string) error {
	return &HTTPError{Status: http.StatusBadRequest, Message: message}
}

// Forbidden returns a 403 error, Django's PermissionDenied.
func Forbidden(message string) error {
	return &HTTPError{Status: http.StatusForbidden, Message: message}
}

// StatusError returns an error answered with status and message.
func StatusError(status int, message string) error {
	return &HTTPError{Status: status, Message: message}
}

// viewError answers a view's error: with the page for its status if
// nothing was written yet, else only a log line (the status line is gone).
func (a *App) viewError(w http.ResponseWriter, st *Request, err error) {
	var he *HTTPError
	if !errors.As(err, &he) {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			he = &HTTPError{Status: http.StatusRequestEntityTooLarge, Message: "request body too large", Err: err}
		} else {
			he = &HTTPError{Status: http.StatusInternalServerError, Err: err}
		}
	}
	level := slog.LevelDebug
	if he.Status >= 500 {
		level = slog.LevelError
	}
	if st.rw.wrote {
		a.logger.LogAttrs(st.Context(), slog.LevelError, "view failed after its response started",
			slog.String("method", st.Method), slog.String("path", st.URL.Path), slog.Any("error", err))
		return
	}
	a.logger.LogAttrs(st.Context(), level, "view returned an error",
		slog.String("method", st.Method), slog.String("path", st.URL.Path),
		slog.Int("status", he.Status), slog.Any("error", err))
	if he.Status >= 500 && a.settings.Debug {
		writeDebug500(w, st.Request, fmt.Sprintf("%T: %v", err, err), nil)
		return
	}
	writeError(w, st, he.Status, he.Message, he.Err, a.settings.Debug)
}

// writeError writes an error page: plain and short, or the app's
// "<status>.html" template when it has one (not in debug), with the cause
// added in debug. st may be nil (middleware used without an App).
func writeError(w http.ResponseWriter, st *Request, status int, msg string, cause error, debug bool) {
	h := w.Header()
	for _, k := range [...]string{"Content-Length", "Content-Encoding", "Content-Disposition", "Etag", "Last-Modified"} {
		delete(h, k)
	}
	if st != nil && st.app != nil && st.app.renderer != nil && !debug {
		name := strconv.Itoa(status) + ".html"
		if st.app.renderer.Has(name) {
			h.Set("Content-Type", "text/html; charset=utf-8")
			sw := &statusWriter{ResponseWriter: w, status: status}
			ctx := Context{"status": status, "status_text": http.StatusText(status), "message": msg}
			err := st.render(sw, name, ctx)
			if err == nil && !sw.started {
				w.WriteHeader(status) // an empty page
			}
			if err == nil || sw.started {
				return
			}
			st.app.logger.Error("rendering an error page failed", slog.String("template", name), slog.Any("error", err))
		}
	}
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	body := strconv.Itoa(status) + " " + http.StatusText(status) + "\n"
	if msg != "" {
		body += "\n" + msg + "\n"
	}
	if debug && cause != nil {
		body += "\n" + cause.Error() + "\n"
	}
	_, _ = w.Write([]byte(body))
}

// statusWriter sends status before the first byte of a body, so that a
// renderer that writes only on success can send a non-200 page.
type statusWriter struct {
	http.ResponseWriter
	status  int
	started bool
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if !s.started {
		s.started = true
		s.ResponseWriter.WriteHeader(s.status)
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }
