package listener

import (
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// A duplicate made for a worker (ListenerFile) is close-on-exec from the
// instant it exists: made with dup(2), then marked, a program another
// goroutine started between the two (a processes: entry restarted, the
// other tier child of mode: subprocess, a worker) inherited the listening
// socket, and kept the address bound, or the Unix socket queueing, after
// the stack had closed it. Each start here runs a shell that lists its own
// descriptors while ListenerFile runs in a loop.
func TestListenerFileIsNeverInheritedByAProgramStartedMeanwhile(t *testing.T) {
	tcp, err := ListenTCP("tcp", "127.0.0.1:0", 16)
	if err != nil {
		t.Fatal(err)
	}
	defer tcp.Close()
	unix, err := Listen("unix:"+filepath.Join(t.TempDir(), "s.sock"), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close()

	stop := make(chan struct{})
	var dups sync.WaitGroup
	for _, l := range []net.Listener{tcp, unix} {
		dups.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				f, err := ListenerFile(l)
				if err != nil {
					t.Error(err)
					return
				}
				f.Close()
			}
		})
	}
	defer func() { close(stop); dups.Wait() }()

	leaked := 0
	for range 60 {
		out, err := exec.Command("/bin/sh", "-c", `for f in /proc/$$/fd/*; do readlink "$f"; done; true`).Output()
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(out), "socket:") {
			leaked++
		}
	}
	if leaked > 0 {
		t.Errorf("%d of 60 programs started while ListenerFile ran inherited a listening socket", leaked)
	}
}
