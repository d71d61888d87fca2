package echo

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/coder/websocket"
)

// MaxMessage is the largest WebSocket message /ws echoes: 1 MiB and a
// little room. A longer one closes the connection with status 1009
// (message too big), as RFC 6455 §7.4.1 has it.
const MaxMessage = 1<<20 + 4<<10

// ws answers a WebSocket at /ws and echoes each message, text or binary,
// until the client closes. ?close_after=N makes the server close (1000)
// after echoing N messages, to exercise a close from the server's side.
func ws(w http.ResponseWriter, r *http.Request) {
	closeAfter := -1
	if s := r.URL.Query().Get("close_after"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			http.Error(w, fmt.Sprintf("ws: close_after %q is not a number of messages", s), http.StatusBadRequest)
			return
		}
		closeAfter = n
	}
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return // Accept has answered (400, 426…)
	}
	defer c.CloseNow()
	c.SetReadLimit(MaxMessage)
	ctx := r.Context()
	for n := 0; n != closeAfter; n++ {
		// Whole messages: one over MaxMessage is never echoed in part.
		typ, msg, err := c.Read(ctx)
		if err != nil {
			return // closed by the client, too big (1009 sent), or the server stopping
		}
		if err := c.Write(ctx, typ, msg); err != nil {
			return
		}
	}
	c.Close(websocket.StatusNormalClosure, "close_after reached")
}
