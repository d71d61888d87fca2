package prefork

// Test clients for a master's workers, as in appserver's own tests: raw
// uwsgi packets as nginx sends them, over the shared socket.

import (
	"bytes"
	"sync"

	"github.com/stack-web/stack/uwsgi/uwsgitest"
)

// syncBuffer is a bytes.Buffer safe for a logger and a test to share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var (
	request     = uwsgitest.Request
	do          = uwsgitest.Do
	rawExchange = uwsgitest.Exchange
)
