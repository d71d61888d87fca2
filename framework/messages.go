package framework

import (
	"log/slog"
	"net/http"

	"github.com/stack-web/stack/framework/internal/sessioncookie"
)

// Level is a message's importance, with Django's values.
type Level = sessioncookie.Level

// Message levels, as django.contrib.messages.
const (
	LevelDebug   = sessioncookie.LevelDebug
	LevelInfo    = sessioncookie.LevelInfo
	LevelSuccess = sessioncookie.LevelSuccess
	LevelWarning = sessioncookie.LevelWarning
	LevelError   = sessioncookie.LevelError
)

// Message is one flash message: its Level and Text; String returns the
// text (so {{.}} prints it) and Tags the level as a CSS class, as Django's
// message.tags.
type Message = sessioncookie.Message

// MessageMiddleware enables flash messages, as Django's MessageMiddleware.
// Messages are kept in the session (so Sessions must come before it in the
// middleware list) until a page shows them.
func MessageMiddleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st, w, r := stateFor(w, r)
		st.messagesOn = true
		next.ServeHTTP(w, r)
	})
}

// Messages are the flash messages of the session, django.contrib.messages:
// a view adds them (typically before a redirect) and the next page that
// renders {{range .messages.All}} shows them, once.
//
// They travel in the session cookie, which a browser drops past 4 KB (and
// uWSGI's default buffer-size refuses a request whose headers pass 4 KB):
// messages that pile up unshown (a loop adding one per row, pages that
// never show them) would lose the whole session. So, as Django's
// CookieStorage, a cookie carrying messages is kept under 2048 bytes by
// dropping the oldest ones; Dropped says how many went.
type Messages struct {
	st      *Request
	dropped int // what Dropped reports once All has taken the messages
}

// maxMessagesCookie is the size a session cookie carrying messages is
// kept under, Django's CookieStorage.max_cookie_size: half of 4 KB, to
// leave room for the other cookies and headers.
const maxMessagesCookie = 2048

// Messages returns the request's flash messages.
func (r *Request) Messages() *Messages {
	r.messages.st = r
	return &r.messages
}

// Add queues a message for the next page shown. Without the Sessions and
// MessageMiddleware middleware it is dropped, with an error logged.
func (m *Messages) Add(level Level, text string) {
	st := m.st
	if !st.messagesOn || st.sessions == nil {
		st.logger().LogAttrs(st.Context(), slog.LevelError,
			"message dropped: flash messages need the Sessions and MessageMiddleware middleware",
			slog.String("text", text))
		return
	}
	s := st.Session()
	s.data.Messages = append(s.data.Messages, Message{Level: level, Text: text})
	s.modified = true
}

// Debug adds a debug message.
func (m *Messages) Debug(text string) { m.Add(LevelDebug, text) }

// Info adds an info message.
func (m *Messages) Info(text string) { m.Add(LevelInfo, text) }

// Success adds a success message, Django's messages.success(request, text).
func (m *Messages) Success(text string) { m.Add(LevelSuccess, text) }

// Warning adds a warning message.
func (m *Messages) Warning(text string) { m.Add(LevelWarning, text) }

// Error adds an error message.
func (m *Messages) Error(text string) { m.Add(LevelError, text) }

// All returns the pending messages and marks them shown: they are removed
// from the session when this response is sent. In a template:
//
//	{{with .messages.All}}<ul class="messages">{{range .}}<li class="{{.Tags}}">{{.}}</li>{{end}}</ul>{{end}}
func (m *Messages) All() []Message {
	st := m.st
	if st == nil || !st.messagesOn || st.sessions == nil {
		return nil
	}
	s := st.Session()
	ms := s.data.Messages
	if len(ms) > 0 || s.data.Dropped != 0 {
		m.dropped += s.data.Dropped
		s.data.Messages, s.data.Dropped = nil, 0
		s.modified = true
	}
	return ms
}

// Dropped returns how many messages were dropped, oldest first, to keep
// the session cookie under 2048 bytes, before those All returns (or will
// return). A page can say so: {{with .messages.Dropped}}({{.}} earlier
// messages not shown){{end}}.
func (m *Messages) Dropped() int {
	st := m.st
	if st == nil || !st.messagesOn || st.sessions == nil {
		return 0
	}
	return m.dropped + st.Session().data.Dropped
}

// fitMessages re-encodes the session, whose cookie value was size bytes,
// keeping only as many of the newest messages as fit under
// maxMessagesCookie (none if its values alone do not fit), and counts the
// others in Dropped, as Django's CookieStorage drops the oldest. It
// returns the cookie value.
func (st *Request) fitMessages(store *sessioncookie.Store, size int) (string, error) {
	d := &st.session.data
	all, dropped := d.Messages, d.Dropped
	encode := func(keep int) (string, error) {
		d.Messages, d.Dropped = all[len(all)-keep:], dropped+len(all)-keep
		return store.Encode(*d)
	}
	// Keeping fewer messages never makes the cookie larger: search for
	// the most that fit, in log2(n) encodings, not one per message.
	lo, hi := 0, len(all)-1 // all of them did not fit
	for lo < hi {
		mid := (lo + hi + 1) / 2
		v, err := encode(mid)
		if err != nil {
			return "", err
		}
		if len(v) <= maxMessagesCookie {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	v, err := encode(lo)
	if err == nil {
		st.logger().LogAttrs(st.Context(), slog.LevelWarn, "flash messages dropped: the session cookie would pass 2048 bytes",
			slog.String("path", st.URL.Path), slog.Int("dropped", len(all)-lo), slog.Int("kept", lo), slog.Int("bytes", size))
	}
	return v, err
}
