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
type Messages struct {
	st *Request
}

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
	if len(ms) > 0 {
		s.data.Messages = nil
		s.modified = true
	}
	return ms
}
