// Package release is the release phase (Heroku's release, a Kubernetes
// init container): the commands that `stack up` runs to completion, in
// order, before it opens a socket, so that no request ever meets a schema
// the code does not expect. A failure stops `up` with the command and its
// output, and nothing ever listened. It runs the steps, shows their output
// prefixed "[release] ", stops them on a signal and checks first that the
// ports `up` will bind are free; cli hands it how one step runs (this
// binary's migrate in process, or a child with the workers' credential).
package release

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/stack-web/stack/config"
	"github.com/stack-web/stack/supervisor"
)

// Env is where the release writes and how it runs one step.
type Env struct {
	Logger *slog.Logger
	Stderr io.Writer
	Lines  supervisor.LineStyle // how the steps' lines are prefixed on Stderr
	// Step runs argv, its output to out, until it exits or ctx is done
	// (SIGINT or SIGTERM).
	Step func(ctx context.Context, argv []string, out io.Writer) error
}

// tailMax bounds how much of a failed command's output the error message
// repeats (all of it was already shown as it ran).
const tailMax = 8 << 10

// Run runs f.Release, each command's lines shown prefixed "[release] " as
// they come. SIGINT or SIGTERM stops the command running (e.Step's to do)
// and fails the release.
func Run(f *config.File, e Env) error {
	if len(f.Release) == 0 {
		return nil
	}
	for i, argv := range f.Release {
		if err := config.CheckReleaseStep(argv); err != nil {
			return fmt.Errorf("release[%d] %q: %w; nothing was started", i, strings.Join(argv, " "), err)
		}
	}
	if err := portsFree(f); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	for i, argv := range f.Release {
		shown := strings.Join(argv, " ")
		e.Logger.Info("release: running", "step", fmt.Sprintf("%d/%d", i+1, len(f.Release)), "command", shown)
		start := time.Now()
		tail := &tailBuffer{max: tailMax}
		lines := supervisor.NewLineWriter(e.Stderr, "release", e.Lines)
		err := e.Step(ctx, argv, io.MultiWriter(lines, tail))
		lines.Close()
		out := tail.bytes()
		if err == nil && ctx.Err() != nil {
			// The signal is the release's (NotifyContext) until stop: a
			// step that finished anyway (the in-process migrate past its
			// last look at ctx) must not drop it, or up would serve on.
			err = errors.New("stopped by a signal")
		}
		if err != nil {
			msg := fmt.Sprintf("release[%d] %q failed: %v; nothing was started", i, shown, err)
			if out = bytes.TrimSpace(out); len(out) > 0 {
				msg += "; its output:\n" + string(out)
			} else {
				msg += " (it printed nothing)"
			}
			return errors.New(msg)
		}
		e.Logger.Info("release: done", "step", fmt.Sprintf("%d/%d", i+1, len(f.Release)), "command", shown, "took", time.Since(start).Round(time.Millisecond))
	}
	return nil
}

// portsFree binds, and closes at once, each TCP address `up` listens on
// once the release is done (the edge's, the admin's, the app server's and
// its stats server's), and dials each of those Unix sockets: one already
// in use (a second `up` in the same run_dir) stops `up` before the release
// changes anything (a migration) for a stack that cannot start. A port
// taken in the meantime is still refused when the tier binds it.
func portsFree(f *config.File) error {
	type place struct{ key, addr string }
	var places []place
	for i, a := range f.Edge.Listen {
		places = append(places, place{fmt.Sprintf("edge.listen[%d]", i), a})
	}
	for i, a := range f.Edge.TLSListen {
		places = append(places, place{fmt.Sprintf("edge.tls_listen[%d]", i), a})
	}
	if f.Admin.Listen != "" {
		places = append(places, place{"admin.listen", f.Admin.Listen})
	}
	places = append(places, place{"appserver.listen", f.Appserver.Listen})
	if f.Appserver.Stats != "" {
		places = append(places, place{"appserver.stats", f.Appserver.Stats})
	}
	// Plain TCP, as config's checkLocal: a probe closed at once.
	var lc net.ListenConfig
	lc.SetMultipathTCP(false)
	for _, p := range places {
		if path, ok := strings.CutPrefix(p.addr, "unix:"); ok {
			// A stale socket (nothing behind it) is the tier's to replace.
			if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
				c.Close()
				return fmt.Errorf("%s: %s: another server is already listening on it; the release did not run, nothing was started", p.key, path)
			}
			continue
		}
		l, err := lc.Listen(context.Background(), "tcp", p.addr)
		if err != nil {
			return fmt.Errorf("%s: %w; the release did not run, nothing was started", p.key, err)
		}
		l.Close()
	}
	return nil
}

// RunCommand runs cmd, made to run in a process group of its own
// (Setpgid), started by start, its output to w, until it exits or ctx
// (cmd's context, whose Cancel stops it) is done. What it left running in
// its group is killed when it exits.
func RunCommand(ctx context.Context, cmd *exec.Cmd, start func(*exec.Cmd) error, w io.Writer) error {
	// The output goes through a pipe of our own, not one exec copies
	// from: exec's Wait would also wait for whatever the command left in
	// the background holding the pipe (sh -c "daemon &"), and fail after
	// WaitDelay. Here the command's exit decides, then what it left in
	// its group is killed and the pipe read to its end.
	pr, pw, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("making a pipe: %w", err)
	}
	cmd.Stdout, cmd.Stderr = pw, pw
	err = start(cmd)
	pw.Close()
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		io.Copy(w, pr)
	}()
	if err == nil {
		err = cmd.Wait()
		// Whatever it left running in its group goes with it.
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	select {
	case <-copied:
	case <-time.After(time.Second): // one that left the group keeps the pipe: stop reading
		pr.Close()
		<-copied
	}
	pr.Close()
	if ctx.Err() != nil && err != nil {
		err = fmt.Errorf("stopped by a signal: %w", err)
	}
	return err
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	max  int
	buf  []byte
	lost bool
}

func (t *tailBuffer) Write(b []byte) (int, error) {
	t.buf = append(t.buf, b...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
		t.lost = true
	}
	return len(b), nil
}

func (t *tailBuffer) bytes() []byte {
	if t.lost {
		return append([]byte("[…] "), t.buf...)
	}
	return t.buf
}
