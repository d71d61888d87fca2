package cli

import (
	"os"
	"os/signal"
	"syscall"
	"testing"
	"time"
)

// Main holds SIGHUP from its first line; only the commands that run the
// stack keep holding it (a reload), every other command gets Go's default
// back (the terminal hung up) before it runs.
func TestOnlyTheStackCommandsKeepTheEarlyHangupHold(t *testing.T) {
	root := newRoot(&cmdEnv{})
	for _, tc := range []struct {
		args []string
		want bool
	}{
		{[]string{"up"}, true}, {[]string{"edge"}, true}, {[]string{"appserver"}, true}, {[]string{"dev"}, true},
		{[]string{"check", "up"}, false}, {[]string{"top"}, false}, {[]string{"migrate"}, false}, {[]string{"version"}, false},
	} {
		cmd, _, err := root.Find(tc.args)
		if err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		if got := runsTheStack(cmd); got != tc.want {
			t.Errorf("runsTheStack(%v) = %v, want %v", tc.args, got, tc.want)
		}
	}
}

// A command that failed before it ran the stack exits right after
// handOver: a held SIGHUP is sent again (the default: exit by it), but a
// held SIGTERM is not, which would turn the command's own status (stack
// dev's first build stopped by it: 1) into a death by the signal.
func TestHandOverAtExitSendsOnlySIGHUPAgain(t *testing.T) {
	got := make(chan os.Signal, 4) // this test process's: the signals sent to itself land here
	signal.Notify(got, syscall.SIGHUP, syscall.SIGTERM)
	defer signal.Stop(got)
	h := startHangups(make(chan os.Signal, 2))
	h <- syscall.SIGTERM
	h <- syscall.SIGHUP
	h.handOver(syscall.SIGHUP)
	select {
	case sig := <-got:
		if sig != syscall.SIGHUP {
			t.Fatalf("sent %v again, want SIGHUP only", sig)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the held SIGHUP was not sent again")
	}
	select {
	case sig := <-got:
		t.Fatalf("also sent %v again", sig)
	case <-time.After(200 * time.Millisecond):
	}
}
