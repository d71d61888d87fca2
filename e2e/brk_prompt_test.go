package e2e

import (
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

// A ^C at the password prompt of `stack changepassword` left the terminal
// without echo: Go's default for SIGINT ended the process in the middle of
// term.ReadPassword. Run as root with appserver.user (the dialogue is a
// child with the workers' credential), the parent died of the same ^C and
// its death SIGKILLed the child (Pdeathsig) before it could do anything.
// Now the prompt catches the ^C, puts the echo back and the command says
// "operation cancelled" with exit status 1; the parent waits for its child.
// A SIGTERM, a SIGHUP (`kill -HUP`, a terminal emulator closed) and a
// SIGQUIT (^\) sent to the command do the same; the SIGHUP and the SIGQUIT
// ended it with the echo off (break-it 14).
func TestBrkSignalsAtThePasswordPromptRestoreTheEcho(t *testing.T) {
	dir, bin := userPollsDir(t, "    database: data/polls.sqlite3\n")
	workersData(t, dir)
	// changepassword looks the user up before it prompts.
	if out, code := runInWith(t, dir, bin, []string{"STACK_SUPERUSER_PASSWORD=brk-prompt-pass"}, "", "createsuperuser", "--username", "admin", "--noinput"); code != 0 {
		t.Fatalf("createsuperuser: exit %d:\n%s", code, out)
	}
	for _, tc := range []struct {
		name string
		env  []string // STACK_APPSERVER_USER= : the dialogue in the command's own process
		send func(cmd *exec.Cmd, terminal func(b byte))
	}{
		{"^C, as the workers", nil, func(_ *exec.Cmd, terminal func(byte)) { terminal(3) }}, // SIGINT to the foreground group
		{"SIGTERM, as the workers", nil, func(cmd *exec.Cmd, _ func(byte)) { cmd.Process.Signal(syscall.SIGTERM) }},
		{"SIGHUP, as the workers", nil, func(cmd *exec.Cmd, _ func(byte)) { cmd.Process.Signal(syscall.SIGHUP) }},
		{"SIGHUP, in its own process", []string{"STACK_APPSERVER_USER=", "STACK_APPSERVER_GROUP="}, func(cmd *exec.Cmd, _ func(byte)) { cmd.Process.Signal(syscall.SIGHUP) }},
		{"^\\, as the workers", nil, func(_ *exec.Cmd, terminal func(byte)) { terminal(0x1c) }}, // SIGQUIT to the foreground group
		{"SIGQUIT, in its own process", []string{"STACK_APPSERVER_USER=", "STACK_APPSERVER_GROUP="}, func(cmd *exec.Cmd, _ func(byte)) { cmd.Process.Signal(syscall.SIGQUIT) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cancelAtThePrompt(t, dir, bin, tc.env, tc.send)
		})
	}
}

// cancelAtThePrompt runs changepassword admin on a new terminal, sends
// what send sends once the password prompt is up, and checks that the
// echo is back on and the command ended with "operation cancelled".
func cancelAtThePrompt(t *testing.T, dir, bin string, env []string, send func(cmd *exec.Cmd, terminal func(b byte))) {
	master, slave := opsOpenPTY(t)
	defer slave.Close()
	cmd := exec.Command(bin, "changepassword", "admin")
	cmd.Dir, cmd.Env = dir, append(append(cleanEnv(), quickExit()), env...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	// The terminal's session leader, in its foreground group: a ^C typed
	// there reaches every process of that group, as in a shell.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	output, _ := readPTY(master)
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(output(), "Password: "); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("no password prompt:\n%s", output())
		}
	}
	time.Sleep(200 * time.Millisecond) // the echo is off once the prompt is written
	send(cmd, func(b byte) { master.Write([]byte{b}) })
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case <-exited:
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		<-exited
		t.Fatalf("changepassword still running 20 s after the signal:\n%s", output())
	}
	var tio syscall.Termios
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, slave.Fd(), syscall.TCGETS, uintptr(unsafe.Pointer(&tio))); e != 0 {
		t.Fatal(e)
	}
	time.Sleep(100 * time.Millisecond) // the last output
	if tio.Lflag&syscall.ECHO == 0 {
		t.Errorf("the terminal's echo is off after the signal at the password prompt:\n%s", output())
	}
	if code := cmd.ProcessState.ExitCode(); code != 1 || !strings.Contains(output(), "operation cancelled") {
		t.Errorf("after the signal: %v, want exit status 1 and \"operation cancelled\":\n%s", cmd.ProcessState, output())
	}
	if env != nil && strings.Contains(output(), "running as the workers' user") {
		t.Errorf("the dialogue ran in a child, not in the command's own process:\n%s", output())
	}
}
