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
func TestBrkCtrlCAtThePasswordPromptRestoresTheEcho(t *testing.T) {
	dir, bin := userPollsDir(t, "    database: data/polls.sqlite3\n")
	workersData(t, dir)
	// changepassword looks the user up before it prompts.
	if out, code := runInWith(t, dir, bin, []string{"STACK_SUPERUSER_PASSWORD=brk-prompt-pass"}, "", "createsuperuser", "--username", "admin", "--noinput"); code != 0 {
		t.Fatalf("createsuperuser: exit %d:\n%s", code, out)
	}
	master, slave := opsOpenPTY(t)
	defer slave.Close()
	cmd := exec.Command(bin, "changepassword", "admin")
	cmd.Dir, cmd.Env = dir, append(cleanEnv(), quickExit())
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
	master.Write([]byte{3})            // ^C: SIGINT to the foreground group
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case <-exited:
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		<-exited
		t.Fatalf("changepassword still running 20 s after ^C:\n%s", output())
	}
	var tio syscall.Termios
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, slave.Fd(), syscall.TCGETS, uintptr(unsafe.Pointer(&tio))); e != 0 {
		t.Fatal(e)
	}
	time.Sleep(100 * time.Millisecond) // the last output
	if tio.Lflag&syscall.ECHO == 0 {
		t.Errorf("the terminal's echo is off after ^C at the password prompt:\n%s", output())
	}
	if code := cmd.ProcessState.ExitCode(); code != 1 || !strings.Contains(output(), "operation cancelled") {
		t.Errorf("after ^C: %v, want exit status 1 and \"operation cancelled\":\n%s", cmd.ProcessState, output())
	}
}
