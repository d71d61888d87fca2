package edge

import (
	"net/http"

	"github.com/stack-web/stack/edge/internal/linger"
)

// The lingering close (edge/internal/linger) after an answer sent before
// the request body was read: here, when one is needed.

// lingerNeeded reports whether the answer in w went out before r's body
// was read, so that closing now would risk a reset: the body is unread and
// either the answer closes the connection or net/http would not drain it.
func lingerNeeded(w *clientWriter, r *http.Request, body *linger.Body) bool {
	if body == nil || body.Done() || w.status == 0 {
		return false
	}
	return w.Header().Get("Connection") == "close" || r.ContentLength < 0 || r.ContentLength > linger.MaxDrainedByServer
}
