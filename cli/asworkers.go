package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"syscall"

	"github.com/stack-web/stack/appserver"
	"github.com/stack-web/stack/cli/internal/usercmd"
	"github.com/stack-web/stack/config"
)

// The commands run by hand that write the app's database (`stack
// migrate`, `createsuperuser`, `changepassword`) run as the workers do:
// with appserver.user or group, a root that opened the database itself
// would create it, and its -journal, -wal and -shm files, as root's, and
// the workers could no longer write it.

// workersCredential is the credential of appserver.user and group, nil
// when neither is set.
func workersCredential(f *config.File) (*syscall.Credential, error) {
	if f.Appserver.User == "" && f.Appserver.Group == "" {
		return nil, nil
	}
	return appserver.LookupCredential(f.Appserver.User, f.Appserver.Group)
}

// asTheWorkers runs the command name, which writes the app's database,
// so that what it creates is the workers': here in this process when
// there is nobody to switch to (no appserver.user or group, or this
// process already runs as them, their uid and gid: the child below does),
// else as root through child, a child with their credential. Not root,
// it cannot switch: it runs here and says whose the files are.
func (c *cmdEnv) asTheWorkers(f *config.File, name string, here func() error, child func(*syscall.Credential) error) error {
	cred, err := workersCredential(f)
	switch {
	case err != nil:
		return err
	case cred == nil || (cred.Uid == uint32(os.Geteuid()) && cred.Gid == uint32(os.Getegid())):
		return here()
	case os.Geteuid() != 0:
		c.logger.Warn(name+": not running as root, so not as appserver.user/group, whose workers write the database: what it creates is this user's", "uid", os.Geteuid(), "workers_uid", cred.Uid)
		return here()
	}
	if err := f.CheckAppWritesAs(cred); err != nil {
		return fmt.Errorf("appserver.user: %w", err) // as check says it
	}
	c.logger.Info(name+": running as the workers' user, as up's release does, so that the database is theirs", "user", f.Appserver.User, "group", f.Appserver.Group, "uid", cred.Uid, "gid", cred.Gid)
	if err := child(cred); err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) && exit.Exited() {
			// It ran and said why it failed (a name taken, no such
			// user, a prompt cancelled): nothing to add to that.
			return fmt.Errorf("%s as appserver.user/group (uid %d gid %d): %w; its own message is above", name, cred.Uid, cred.Gid, err)
		}
		return fmt.Errorf("%s as appserver.user/group (uid %d gid %d): %w; `stack check` says what they cannot read or write", name, cred.Uid, cred.Gid, err)
	}
	return nil
}

// childCommand is the command for argv: a program named stack is this
// binary, with the same configuration flags (before a "--", which ends
// the flags), run with cred if not nil. In a process group of its own if
// group (runChild), stopped when ctx is done by SIGTERM to it, and
// SIGKILL after shutdown_timeout; either way it dies with this process.
func (c *cmdEnv) childCommand(ctx context.Context, f *config.File, argv []string, cred *syscall.Credential, group bool) (*exec.Cmd, error) {
	ours := argv[0] == "stack"
	if ours {
		// This binary, with the configuration loaded here, whatever
		// PATH holds (go run, a binary of your own).
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("finding this binary: %w", err)
		}
		end := slices.Index(argv, "--")
		if end < 0 {
			end = len(argv)
		}
		argv = slices.Concat([]string{exe}, argv[1:end], c.childArgs(), argv[end:])
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	if ours {
		// It loads the configuration read here, which it may not be
		// able to read as appserver.user (a root-only file), or again
		// (--config /dev/stdin). The caller closes the file once it has
		// started (startChild).
		if err := c.heldCfg.Hold(f.Held); err != nil {
			return nil, err
		}
		files, env, err := c.heldCfg.Inherit(3)
		if err != nil {
			return nil, err
		}
		cmd.ExtraFiles, cmd.Env = files, append(os.Environ(), env...)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: group, Pdeathsig: syscall.SIGKILL, Credential: cred}
	cmd.Cancel = func() error {
		if group {
			return syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		}
		return cmd.Process.Signal(syscall.SIGTERM)
	}
	cmd.WaitDelay = f.ShutdownTimeout
	return cmd, nil
}

// runDialogue runs argv (as childCommand) on this command's own stdin,
// stdout and stderr: a user command's dialogue, its questions asked and
// its password read, without echo, on the terminal as they would be in
// this process. It stays in this process group, the terminal's
// foreground one: in a group of its own it would be stopped (SIGTTIN) at
// its first read of the terminal, and a ^C reaches it as it reaches us.
// Its environment is ours (STACK_SUPERUSER_PASSWORD included: never on a
// command line, which every user can read in /proc). A ^C, SIGTERM,
// SIGHUP or SIGQUIT (usercmd.CancelSignals) does not end this process,
// whose death would SIGKILL the child (Pdeathsig) in its password prompt
// with the terminal's echo off: the child gets SIGTERM (a ^C or ^\ too,
// from the terminal), puts the echo back and ends.
func (c *cmdEnv) runDialogue(ctx context.Context, f *config.File, argv []string, cred *syscall.Credential) error {
	ctx, stop := signal.NotifyContext(ctx, usercmd.CancelSignals()...)
	defer stop()
	cmd, err := c.childCommand(ctx, f, argv, cred, false)
	if err != nil {
		return err
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = c.stdin, c.stdout, c.stderr
	if err := startChild(cmd); err != nil {
		return err
	}
	return cmd.Wait()
}

// startChild starts cmd and closes this process's copies of the files it
// inherits.
func startChild(cmd *exec.Cmd) error {
	err := cmd.Start()
	closeFiles(cmd.ExtraFiles)
	return err
}
