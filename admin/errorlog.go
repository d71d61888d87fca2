package admin

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// ErrorLog keeps the latest warnings and errors logged, for the status
// page: a slog.Handler that passes every record on to the next handler
// and copies those at Warn and above into a small ring.
type ErrorLog struct {
	mu      sync.Mutex
	entries []LogEntry // ring of errorLogSize
	next    int
	full    bool
}

// errorLogSize is how many entries the status page shows.
const errorLogSize = 20

// LogEntry is one warning or error.
type LogEntry struct {
	Time    time.Time `json:"time"`
	Level   string    `json:"level"`
	Message string    `json:"message"`
	Attrs   string    `json:"attrs"`
}

// NewErrorLog returns an empty ring; Handler wraps a slog.Handler with it.
func NewErrorLog() *ErrorLog {
	return &ErrorLog{entries: make([]LogEntry, errorLogSize)}
}

// Handler returns next with the ring fed from it.
func (l *ErrorLog) Handler(next slog.Handler) slog.Handler {
	return &errorHandler{next: next, log: l}
}

func (l *ErrorLog) add(e LogEntry) {
	l.mu.Lock()
	l.entries[l.next] = e
	l.next = (l.next + 1) % len(l.entries)
	if l.next == 0 {
		l.full = true
	}
	l.mu.Unlock()
}

// Entries returns the entries, oldest first.
func (l *ErrorLog) Entries() []LogEntry {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := []LogEntry{}
	if l.full {
		out = append(out, l.entries[l.next:]...)
	}
	return append(out, l.entries[:l.next]...)
}

type errorHandler struct {
	next   slog.Handler
	log    *ErrorLog
	attrs  string
	groups string
}

func (h *errorHandler) Enabled(ctx context.Context, lv slog.Level) bool {
	return lv >= slog.LevelWarn || h.next.Enabled(ctx, lv)
}

func (h *errorHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelWarn {
		var b strings.Builder
		b.WriteString(h.attrs)
		r.Attrs(func(a slog.Attr) bool {
			if b.Len() > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(h.groups + a.String())
			return b.Len() < 512
		})
		h.log.add(LogEntry{Time: r.Time, Level: r.Level.String(), Message: r.Message, Attrs: b.String()})
	}
	if !h.next.Enabled(ctx, r.Level) {
		return nil
	}
	return h.next.Handle(ctx, r)
}

func (h *errorHandler) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	c.next = h.next.WithAttrs(as)
	var b strings.Builder
	b.WriteString(h.attrs)
	for _, a := range as {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(h.groups + a.String())
	}
	c.attrs = b.String()
	return &c
}

func (h *errorHandler) WithGroup(name string) slog.Handler {
	c := *h
	c.next = h.next.WithGroup(name)
	c.groups = h.groups + name + "."
	return &c
}
