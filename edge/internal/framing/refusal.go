package framing

import (
	"bytes"
	"strconv"
)

var (
	errorStatusPrefix = []byte("HTTP/1.1 ")
	dateHeader        = []byte("\r\nDate: ")
	headEnd           = []byte("\r\n\r\n")
	uriTooLong        = []byte("HTTP/1.1 414 Request-URI Too Long\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n414 Request-URI Too Long\n")
)

// Write passes the server's writes on; an answer net/http wrote itself to
// refuse a head is logged (serverRefusal), and a 431 for an over-long
// request line is sent as 414.
func (c *Conn) Write(p []byte) (int, error) {
	if c.guard != nil && len(p) > 12 && bytes.HasPrefix(p, errorStatusPrefix) && (p[9] == '4' || p[9] == '5') {
		if q := c.serverRefusal(p); q != nil {
			if _, err := c.Conn.Write(q); err != nil {
				return 0, err
			}
			return len(p), nil
		}
	}
	return c.Conn.Write(p)
}

// serverRefusal recognises an answer net/http writes itself when it
// refuses a request head: every handler's answer has a Date header, these
// never do. It logs the refusal and returns the bytes to send instead, or
// nil to send p.
func (c *Conn) serverRefusal(p []byte) []byte {
	head, _, ok := bytes.Cut(p, headEnd)
	if !ok || bytes.Contains(head, dateHeader) {
		return nil
	}
	status, err := strconv.Atoi(string(p[9:12]))
	if err != nil {
		return nil
	}
	c.mu.Lock()
	// net/http refuses either a head in progress (too large) or one it
	// has read whole (malformed), after which the tracker has moved on.
	line := c.reqLine
	if c.headLen == 0 {
		line = c.prevLine
	}
	requestLine := string(bytes.TrimRight(line, "\r\n"))
	_, maxLine := c.guard.Limits()
	tooLong := maxLine > 0 && c.lineLen > maxLine
	c.mu.Unlock()
	var out []byte
	if status == 431 && tooLong {
		status, out = 414, uriTooLong
	}
	sent := p
	if out != nil {
		sent = out
	}
	_, body, _ := bytes.Cut(sent, headEnd)
	c.guard.RefusedByServer(c, requestLine, status, int64(len(body)))
	return out
}
