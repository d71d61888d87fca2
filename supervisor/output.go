package supervisor

import (
	"bytes"
	"encoding/json"
	"hash/fnv"
	"io"
	"sync"
)

// The output of child processes (tiers in subprocess mode, extra
// processes, release commands) is multiplexed onto one stream by line,
// each line prefixed with the child's name, as docker compose and
// foreman do.

// LineStyle says how a child's lines are written.
type LineStyle struct {
	// Colour paints the "[name]" prefix in a colour of the name's own
	// (the same name always gets the same colour); set it only when the
	// output is a terminal.
	Colour bool
	// JSON passes a line that is a JSON object through unprefixed, so
	// that with log_format: json the stream stays one object per line,
	// with the child's name as its first member instead ("child":
	// "edge-1"): each child's records name their tier, but two edge
	// processes (edge.processes) have the same one. Other lines (a
	// program's own output) are prefixed as usual.
	JSON bool
}

// NewLineWriter returns a writer that writes whole lines to w, each
// prefixed with "[name] " in style. Close flushes a last unterminated
// line.
func NewLineWriter(w io.Writer, name string, style LineStyle) io.WriteCloser {
	return style.writer(w, name)
}

func (s LineStyle) writer(w io.Writer, name string) *prefixWriter {
	prefix := "[" + name + "] "
	if s.Colour {
		prefix = Colour(name) + "[" + name + "]" + colourReset + " "
	}
	pw := &prefixWriter{w: w, prefix: []byte(prefix), json: s.JSON}
	if s.JSON {
		q, _ := json.Marshal(name) // a string always marshals
		pw.member = append(append([]byte(`"child":`), q...), ',')
	}
	return pw
}

// palette holds the ANSI foreground colours prefixes are painted in:
// cyan, yellow, green, magenta, blue, and their bright variants; red is
// left out, as it reads as an error.
var palette = [...]string{"\x1b[36m", "\x1b[33m", "\x1b[32m", "\x1b[35m", "\x1b[34m", "\x1b[96m", "\x1b[93m", "\x1b[92m", "\x1b[95m", "\x1b[94m"}

const colourReset = "\x1b[0m"

// Colour returns the ANSI escape that starts name's colour: a hash of the
// name, so a child keeps its colour across restarts and runs. The tiers
// get fixed ones, to be told apart at a glance.
func Colour(name string) string {
	switch name {
	case "edge":
		return palette[0]
	case "appserver":
		return palette[1]
	}
	h := fnv.New32a()
	h.Write([]byte(name))
	return palette[2+h.Sum32()%uint32(len(palette)-2)]
}

// prefixWriter writes whole lines to w, each prefixed, so the output of
// several children interleaves by line, never mid-line.
type prefixWriter struct {
	mu     sync.Mutex
	w      io.Writer
	prefix []byte
	json   bool
	member []byte // `"child":"NAME",`, put first in a JSON object line
	buf    []byte
}

func (pw *prefixWriter) Write(b []byte) (int, error) {
	pw.mu.Lock()
	defer pw.mu.Unlock()
	pw.buf = append(pw.buf, b...)
	for {
		i := bytes.IndexByte(pw.buf, '\n')
		if i < 0 {
			if len(pw.buf) > 64<<10 { // a very long line is cut rather than held forever
				pw.emit(pw.buf)
				pw.buf = pw.buf[:0]
			}
			return len(b), nil
		}
		pw.emit(pw.buf[:i])
		pw.buf = pw.buf[i+1:]
	}
}

// Close writes a last line that had no newline.
func (pw *prefixWriter) Close() error {
	pw.flush()
	return nil
}

func (pw *prefixWriter) flush() {
	pw.mu.Lock()
	defer pw.mu.Unlock()
	if len(pw.buf) > 0 {
		pw.emit(pw.buf)
		pw.buf = nil
	}
}

func (pw *prefixWriter) emit(line []byte) {
	prefix := pw.prefix
	if pw.json && len(line) > 1 && line[0] == '{' && line[len(line)-1] == '}' {
		// The child's name, first: `{"child":"edge-1","time":...}`, and
		// `{"child":"edge-1"}` for an empty object.
		member, rest := pw.member, line[1:]
		if len(bytes.TrimSpace(rest)) == 1 {
			member = member[:len(member)-1]
		}
		out := make([]byte, 0, len(member)+len(line)+2)
		out = append(append(append(append(out, '{'), member...), rest...), '\n')
		pw.w.Write(out)
		return
	}
	out := make([]byte, 0, len(prefix)+len(line)+1)
	out = append(append(append(out, prefix...), line...), '\n')
	pw.w.Write(out) // one write per line: lines from several children never interleave mid-line
}
