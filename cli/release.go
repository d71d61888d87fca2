package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/stack-web/stack/config"
	"github.com/stack-web/stack/supervisor"
)

// The release phase (Heroku's release, a Kubernetes init container):
// commands that `stack up` runs to completion, in order, before it opens a
// socket, so that no request ever meets a schema the code does not expect.
// A failure stops `up` with the command and its output, and nothing ever
// listened.

// defaultRelease is release when no source gives it: `stack migrate` for
// an app that has migrations, nothing for the others.
func (c *cmdEnv) defaultRelease(app string) [][]string {
	if a, ok := c.apps[app]; ok && a.Migrate != nil {
		return [][]string{{"stack", "migrate"}}
	}
	return nil
}

// releaseTail bounds how much of a failed command's output the error
// message repeats (all of it was already shown as it ran).
const releaseTail = 8 << 10

// runRelease runs f.Release, each command's lines shown prefixed
// "[release] " as they come. SIGINT or SIGTERM stops the command running
// (SIGTERM to its process group, SIGKILL after shutdown_timeout) and
// fails the release.
func (c *cmdEnv) runRelease(f *config.File) error {
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
		c.logger.Info("release: running", "step", fmt.Sprintf("%d/%d", i+1, len(f.Release)), "command", shown)
		start := time.Now()
		out, err := c.runReleaseCommand(ctx, f, argv)
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
		c.logger.Info("release: done", "step", fmt.Sprintf("%d/%d", i+1, len(f.Release)), "command", shown, "took", time.Since(start).Round(time.Millisecond))
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

// runReleaseCommand runs one command and returns the tail of its output.
// [stack, migrate], the default step, runs in this process: it is the
// same code, and a process of its own would cost a start (a second under
// the race detector, which sleeps at exit). With appserver.user or group,
// every command runs as the workers do, as a child with their
// credential: what a release writes (the database) is the app's, and the
// workers must be able to write it.
func (c *cmdEnv) runReleaseCommand(ctx context.Context, f *config.File, argv []string) ([]byte, error) {
	tail := &tailBuffer{max: releaseTail}
	lines := supervisor.NewLineWriter(c.stderr, "release", c.lineStyle(f))
	w := io.MultiWriter(lines, tail)
	cred, err := workersCredential(f)
	if err != nil {
		return nil, err
	}
	if cred == nil && len(argv) == 2 && argv[0] == "stack" && argv[1] == "migrate" {
		err := c.migrate(ctx, f, w)
		lines.Close()
		return tail.bytes(), err
	}
	err = c.runChild(ctx, f, argv, cred, w)
	lines.Close()
	return tail.bytes(), err
}

// runChild runs argv (a program named stack is this binary, with the
// same configuration flags) in a process group of its own, with cred if
// not nil, its output to w, until it exits or ctx is done: then SIGTERM
// to its group, and SIGKILL after shutdown_timeout.
func (c *cmdEnv) runChild(ctx context.Context, f *config.File, argv []string, cred *syscall.Credential, w io.Writer) error {
	cmd, err := c.childCommand(ctx, f, argv, cred, true)
	if err != nil {
		return err
	}
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
	err = startChild(cmd)
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

func (c *cmdEnv) migrateCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "migrate",
		Short: "Bring the app's database up to date (Django's migrate); the default release step",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := c.loadFor("app")
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			// Run by hand as root, it would make the database (and its
			// journal) root's, which the workers could not write.
			return c.asTheWorkers(f, "migrate", func() error { return c.migrate(ctx, f, c.stdout) },
				func(cred *syscall.Credential) error {
					return c.runChild(ctx, f, []string{"stack", "migrate"}, cred, c.stdout)
				})
		},
	}
}

// migrate runs the app's Migrate hook, its progress written to out.
func (c *cmdEnv) migrate(ctx context.Context, f *config.File, out io.Writer) error {
	app, ok := c.apps[f.Appserver.App]
	if !ok {
		return fmt.Errorf("appserver.app: %q is not built into this binary", f.Appserver.App)
	}
	if app.Migrate == nil {
		fmt.Fprintf(out, "stack: app %s has no migrations; nothing to do\n", app.Name)
		return nil
	}
	start := time.Now()
	env := Env{Settings: f.Apps[app.Name], RunDir: f.RunDir, Logger: c.logger.With("app", app.Name), Out: out}
	if err := app.Migrate(ctx, env); err != nil {
		return fmt.Errorf("migrate: app %s: %w", app.Name, err)
	}
	fmt.Fprintf(out, "stack: app %s migrated in %s\n", app.Name, time.Since(start).Round(time.Millisecond))
	return nil
}
