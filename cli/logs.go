package cli

import (
	"io"
	"log/slog"
	"os"
	"syscall"
	"unsafe"

	"github.com/stack-web/stack/config"
	"github.com/stack-web/stack/supervisor"
)

// Logs: every process of the stack (the parent, tier children, worker
// processes) reads the configuration and so log_format, and makes its
// logger with it; the children's lines reach the parent's stderr through
// the supervisor, prefixed with their name.

// newLogHandler makes the slog handler for log_format ("text" or "json").
func newLogHandler(w io.Writer, format string, level slog.Leveler) slog.Handler {
	opts := &slog.HandlerOptions{Level: level}
	if format == "json" {
		return slog.NewJSONHandler(w, opts)
	}
	return slog.NewTextHandler(w, opts)
}

// useLogFormat remakes the command's logger in f's log_format, once the
// configuration is read (the flags' logger, text, served until then).
func (c *cmdEnv) useLogFormat(f *config.File) {
	if f.LogFormat == "" || f.LogFormat == c.logFormat {
		return
	}
	var level slog.Level
	level.UnmarshalText([]byte(c.logLevel)) // checked by PersistentPreRunE
	c.logger = slog.New(newLogHandler(c.stderr, f.LogFormat, level))
	c.logFormat = f.LogFormat
	c.shareLogger()
}

// lineStyle is how children's lines are multiplexed onto stderr: coloured
// prefixes on a terminal only (a file or a pipe gets no escapes), JSON
// records passed through whole with log_format: json.
func (c *cmdEnv) lineStyle(f *config.File) supervisor.LineStyle {
	return supervisor.LineStyle{Colour: isTerminal(c.stderr, true), JSON: f.LogFormat == "json"}
}

// isTerminal reports whether w is a terminal (TCGETS succeeds on it), as
// isatty(3) decides. For colour, NO_COLOR (no-color.org) says no anyway.
func isTerminal(w io.Writer, forColour bool) bool {
	f, ok := w.(*os.File)
	if !ok || forColour && os.Getenv("NO_COLOR") != "" {
		return false
	}
	var t syscall.Termios
	_, _, errno := syscall.Syscall(syscall.SYS_IOCTL, f.Fd(), syscall.TCGETS, uintptr(unsafe.Pointer(&t)))
	return errno == 0
}

// shareLogger hands the command's logger to the memory trimmer
// (cli/internal/memtune, started by Main).
func (c *cmdEnv) shareLogger() {
	if c.trimLog != nil {
		c.trimLog.Store(c.logger)
	}
}
