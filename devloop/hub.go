package devloop

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Prefix is the URL path under which the dev loop answers, through the
// edge: events (the SSE stream), status (JSON) and reload.js.
const Prefix = "/__stack/dev/"

// Status is what the dev loop reports at Prefix+"status".
type Status struct {
	// Builds counts the successful builds since the start (the first one included).
	Builds int `json:"builds"`
	// Failed counts the builds that failed.
	Failed int `json:"failed"`
	// Reloads counts the reloads sent to the browsers.
	Reloads int `json:"reloads"`
	// Error is the last build's compiler output if it failed, else "":
	// the last good build keeps serving meanwhile.
	Error string `json:"error"`
}

// event is one server-sent event.
type event struct {
	name string
	data string
}

// Hub tells the open pages what the loop did: it serves the event stream
// that the injected script listens to, the script itself and the status.
// The zero value is ready to use.
type Hub struct {
	mu     sync.Mutex
	status Status
	subs   map[chan event]struct{}
	closed bool
	done   chan struct{}
	id     string // this dev process, for a page that reconnects after a restart
}

func (h *Hub) init() {
	if h.subs == nil {
		h.subs = map[chan event]struct{}{}
		h.done = make(chan struct{})
		h.id = strconv.FormatInt(time.Now().UnixNano(), 36)
	}
}

// Status returns a copy of the current status.
func (h *Hub) Status() Status {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.status
}

// Built records a build: ok, or failed with the compiler's output.
func (h *Hub) Built(output string, ok bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.init()
	if ok {
		h.status.Builds++
		h.status.Error = ""
		return
	}
	h.status.Failed++
	h.status.Error = output
	h.broadcastLocked(event{"builderror", jsonString(output)})
}

// Reload tells every open page to reload itself.
func (h *Hub) Reload(reason string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.init()
	h.status.Reloads++
	h.broadcastLocked(event{"reload", jsonString(reason)})
}

// broadcastLocked queues e for every subscriber; one whose queue is full
// (a stalled page) misses it rather than holding the loop back.
func (h *Hub) broadcastLocked(e event) {
	for ch := range h.subs {
		select {
		case ch <- e:
		default:
		}
	}
}

// Close ends every event stream, so that a stopping edge is not held by
// pages that would otherwise listen for ever.
func (h *Hub) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.init()
	if !h.closed {
		h.closed = true
		close(h.done)
	}
}

func (h *Hub) subscribe() (chan event, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.init()
	if h.closed {
		return nil, false
	}
	ch := make(chan event, 8)
	ch <- event{"hello", jsonString(h.id)}
	if h.status.Error != "" {
		ch <- event{"builderror", jsonString(h.status.Error)} // a page opened while the build is broken
	}
	h.subs[ch] = struct{}{}
	return ch, true
}

func (h *Hub) unsubscribe(ch chan event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.subs, ch)
}

// keepalive is how often an idle stream gets a comment line, well within
// the edge's read_timeout, so that a quiet stream is not taken for a dead
// upstream.
const keepalive = 15 * time.Second

// ServeHTTP answers Prefix+"events", "status" and "reload.js".
func (h *Hub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case Prefix + "events":
		h.serveEvents(w, r)
	case Prefix + "status":
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		json.NewEncoder(w).Encode(h.Status())
	case Prefix + "reload.js":
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		fmt.Fprint(w, reloadJS)
	default:
		http.NotFound(w, r)
	}
}

func (h *Hub) serveEvents(w http.ResponseWriter, r *http.Request) {
	ch, ok := h.subscribe()
	if !ok {
		http.Error(w, "the dev loop is stopping", http.StatusServiceUnavailable)
		return
	}
	defer h.unsubscribe(ch)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no") // the edge passes each event at once
	rc := http.NewResponseController(w)
	fmt.Fprint(w, ": stack dev\n\n")
	rc.Flush()
	tick := time.NewTicker(keepalive)
	defer tick.Stop()
	for {
		select {
		case e := <-ch:
			fmt.Fprintf(w, "event: %s\ndata: %s\n\n", e.name, e.data)
		case <-tick.C:
			fmt.Fprint(w, ": ping\n\n")
		case <-r.Context().Done():
			return
		case <-h.done:
			return
		}
		if rc.Flush() != nil {
			return
		}
	}
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// reloadJS is the script injected into HTML pages: it reloads the page on
// each successful rebuild or reload, and when its stream reconnects to a
// restarted stack dev; it shows a failed build's errors over the page
// (which the last good build still serves).
const reloadJS = `(function () {
  var es = new EventSource("` + Prefix + `events"), id = null;
  es.addEventListener("hello", function (e) {
    if (id !== null && id !== e.data) { location.reload(); }
    id = e.data;
  });
  es.addEventListener("reload", function () { location.reload(); });
  es.addEventListener("builderror", function (e) {
    var box = document.getElementById("__stack_dev_error");
    if (!box) {
      box = document.createElement("pre");
      box.id = "__stack_dev_error";
      box.style.cssText = "position:fixed;inset:0;margin:0;padding:2em;overflow:auto;z-index:2147483647;" +
        "background:rgba(20,0,0,.92);color:#fdd;font:14px/1.4 monospace;white-space:pre-wrap";
      document.body.appendChild(box);
    }
    box.textContent = "stack dev: the build failed; the last good build is still serving.\n\n" + JSON.parse(e.data);
  });
})();
`
