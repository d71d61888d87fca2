package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// adminBrowser drives Debian's headless chromium over the DevTools
// protocol on a pipe (--remote-debugging-pipe: JSON messages ended by NUL
// on descriptors 3 and 4), so no WebSocket client is needed. It is a real
// browser: it parses the pages, keeps the cookies, and submits the forms
// itself when a button is clicked.
type adminBrowser struct {
	t       *testing.T
	cmd     *exec.Cmd
	w       *os.File
	mu      sync.Mutex
	nextID  int
	waiting map[int]chan cdpReply
	session string
	done    chan struct{}
	stderr  bytes.Buffer
}

type cdpReply struct {
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Message string `json:"message"`
	} `json:"error"`
}

// adminStartBrowser starts chromium with a page of 1280×900 CSS pixels.
func adminStartBrowser(t *testing.T) *adminBrowser {
	t.Helper()
	exe, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("chromium is not installed (scripts/test.sh installs it): %v", err)
	}
	toChrome, ourW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	ourR, fromChrome, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	b := &adminBrowser{t: t, w: ourW, waiting: map[int]chan cdpReply{}, done: make(chan struct{})}
	b.cmd = exec.Command(exe, "--headless", "--no-sandbox", "--disable-gpu", "--remote-debugging-pipe",
		"--user-data-dir="+t.TempDir(), "--no-first-run", "--no-default-browser-check", "--disable-extensions",
		"--disable-background-networking", "--disable-sync", "--mute-audio", "--hide-scrollbars", "about:blank")
	b.cmd.ExtraFiles = []*os.File{toChrome, fromChrome} // descriptors 3 and 4
	b.cmd.Stderr = &b.stderr
	if err := b.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	toChrome.Close()
	fromChrome.Close()
	go b.read(ourR)
	t.Cleanup(func() {
		ourW.Close()
		b.cmd.Process.Kill()
		b.cmd.Wait()
		<-b.done
		ourR.Close()
	})
	var target struct{ TargetID string }
	b.call("", "Target.createTarget", map[string]any{"url": "about:blank"}, &target)
	var att struct{ SessionID string }
	b.call("", "Target.attachToTarget", map[string]any{"targetId": target.TargetID, "flatten": true}, &att)
	b.session = att.SessionID
	b.call(b.session, "Emulation.setDeviceMetricsOverride", map[string]any{"width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": false}, nil)
	return b
}

// read delivers replies to their callers; events are ignored.
func (b *adminBrowser) read(r *os.File) {
	defer close(b.done)
	br := bufio.NewReader(r)
	for {
		msg, err := br.ReadBytes(0)
		if err != nil {
			b.mu.Lock()
			for id, ch := range b.waiting {
				close(ch)
				delete(b.waiting, id)
			}
			b.mu.Unlock()
			return
		}
		var m struct {
			ID int `json:"id"`
			cdpReply
		}
		if json.Unmarshal(msg[:len(msg)-1], &m) != nil || m.ID == 0 {
			continue
		}
		b.mu.Lock()
		ch := b.waiting[m.ID]
		delete(b.waiting, m.ID)
		b.mu.Unlock()
		if ch != nil {
			ch <- m.cdpReply
		}
	}
}

// call sends one DevTools command and decodes its result into out.
func (b *adminBrowser) call(session, method string, params any, out any) {
	b.t.Helper()
	if msg := b.callErr(session, method, params, out); msg != "" {
		b.t.Fatalf("chromium: %s: %s", method, msg)
	}
}

// navigatedAway is Chromium's answer to an evaluation during which the
// page navigated: a click that submits a form or follows a link, or a poll
// of the page just as the next one commits.
const navigatedAway = "Inspected target navigated or closed"

// callErr is call, returning Chromium's error message instead of failing
// the test on it.
func (b *adminBrowser) callErr(session, method string, params any, out any) string {
	b.t.Helper()
	b.mu.Lock()
	b.nextID++
	id := b.nextID
	ch := make(chan cdpReply, 1)
	b.waiting[id] = ch
	b.mu.Unlock()
	req := map[string]any{"id": id, "method": method, "params": params}
	if session != "" {
		req["sessionId"] = session
	}
	msg, _ := json.Marshal(req)
	if _, err := b.w.Write(append(msg, 0)); err != nil {
		b.t.Fatalf("chromium: sending %s: %v\n%s", method, err, b.stderr.String())
	}
	select {
	case r, ok := <-ch:
		if !ok {
			b.t.Fatalf("chromium exited during %s:\n%s", method, b.stderr.String())
		}
		if r.Error != nil {
			return r.Error.Message
		}
		if out != nil {
			if err := json.Unmarshal(r.Result, out); err != nil {
				b.t.Fatalf("chromium: %s: %v", method, err)
			}
		}
	case <-time.After(30 * time.Second):
		b.t.Fatalf("chromium: no answer to %s within 30s", method)
	}
	return ""
}

// eval runs JavaScript in the page and returns its value as JSON.
func (b *adminBrowser) eval(expr string) json.RawMessage {
	b.t.Helper()
	v, ok := b.evalIn(expr, false)
	if !ok {
		b.t.Fatalf("chromium: %s: %s", expr, navigatedAway)
	}
	return v
}

// evalNavigating is eval for an expression that may navigate the page (or
// run as it navigates): ok is false if it did, before answering.
func (b *adminBrowser) evalNavigating(expr string) (v json.RawMessage, ok bool) {
	b.t.Helper()
	return b.evalIn(expr, true)
}

func (b *adminBrowser) evalIn(expr string, mayNavigate bool) (json.RawMessage, bool) {
	b.t.Helper()
	var r struct {
		Result struct {
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		ExceptionDetails *struct {
			Text      string `json:"text"`
			Exception struct {
				Description string `json:"description"`
			} `json:"exception"`
		} `json:"exceptionDetails"`
	}
	if msg := b.callErr(b.session, "Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true}, &r); msg != "" {
		if mayNavigate && strings.Contains(msg, navigatedAway) {
			return nil, false
		}
		b.t.Fatalf("chromium: Runtime.evaluate: %s", msg)
	}
	if r.ExceptionDetails != nil {
		b.t.Fatalf("chromium: %s: %s %s", expr, r.ExceptionDetails.Text, r.ExceptionDetails.Exception.Description)
	}
	return r.Result.Value, true
}

func (b *adminBrowser) evalString(expr string) string {
	var s string
	json.Unmarshal(b.eval(expr), &s)
	return s
}

// act runs an action that loads a new page (a navigation, a click on a
// submit button) and waits until the new page has loaded.
func (b *adminBrowser) act(action func()) {
	b.t.Helper()
	b.eval(`window.__stackOld = true`)
	action()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for ctx.Err() == nil {
		var ok bool
		if v, answered := b.evalNavigating(`!window.__stackOld && document.readyState === "complete"`); answered {
			json.Unmarshal(v, &ok)
		}
		if ok {
			return
		}
		time.Sleep(30 * time.Millisecond)
	}
	b.t.Fatalf("chromium: the page did not load within 30s (at %s)", b.evalString("location.href"))
}

// open navigates to url.
func (b *adminBrowser) open(url string) {
	b.t.Helper()
	b.act(func() { b.call(b.session, "Page.navigate", map[string]any{"url": url}, nil) })
}

// fill sets form inputs by name (checkboxes are checked by "on") and
// clicks the submit button matched by selector.
func (b *adminBrowser) fill(values map[string]string, submit string) {
	b.t.Helper()
	js, _ := json.Marshal(values)
	sel, _ := json.Marshal(submit)
	b.act(func() {
		b.evalNavigating(fmt.Sprintf(`(() => {
			const values = %s;
			for (const [name, v] of Object.entries(values)) {
				const el = document.querySelector('[name="' + name + '"]');
				if (!el) throw new Error("no input named " + name);
				if (el.type === "checkbox" || el.type === "radio") el.checked = v === "on"; else el.value = v;
			}
			const button = document.querySelector(%s);
			if (!button) throw new Error("no button " + %s);
			button.click();
		})()`, js, sel, sel))
	})
}

// text is the page's text, white space collapsed (textContent: CSS
// text-transform does not change it).
func (b *adminBrowser) text() string {
	return b.evalString(`document.body.textContent.replace(/\s+/g, " ")`)
}

// here is the page's path and query.
func (b *adminBrowser) here() string { return b.evalString("location.pathname + location.search") }

// screenshot saves the page as PNG under dirs (each created if needed).
func (b *adminBrowser) screenshot(name string, dirs ...string) {
	b.t.Helper()
	var r struct{ Data string }
	b.call(b.session, "Page.captureScreenshot", map[string]any{"format": "png", "captureBeyondViewport": true}, &r)
	png, err := base64.StdEncoding.DecodeString(r.Data)
	if err != nil || !bytes.HasPrefix(png, []byte("\x89PNG")) {
		b.t.Fatalf("screenshot %s: not a PNG (%v)", name, err)
	}
	for _, d := range dirs {
		if d == "" {
			continue
		}
		if err := os.MkdirAll(d, 0o755); err != nil {
			b.t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, name), png, 0o644); err != nil {
			b.t.Fatal(err)
		}
	}
	b.t.Logf("screenshot %s: %d bytes in %s", name, len(png), strings.Join(dirs, ", "))
}
