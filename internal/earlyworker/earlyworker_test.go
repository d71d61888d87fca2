package earlyworker

import (
	"os"
	"syscall"
	"testing"
)

// Orders carry the master's whole environment; orders larger than Await
// accepts are refused at the master (which then starts its worker itself),
// not sent to a worker that would exit 1 on them.
func TestOrderRefusesWhatAwaitWouldNot(t *testing.T) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	mine, theirs := os.NewFile(uintptr(fds[0]), "mine"), os.NewFile(uintptr(fds[1]), "theirs")
	defer mine.Close()
	defer theirs.Close()
	p := &Process{Proc: &os.Process{Pid: os.Getpid()}, Control: mine}
	big := "X=" + string(make([]byte, maxOrders))
	if err := p.Order([]string{"stack", "appserver-worker"}, []string{big}, nil); err == nil {
		t.Error("orders over maxOrders were sent")
	}
	if err := p.Order([]string{"stack", "appserver-worker"}, os.Environ(), nil); err != nil {
		t.Errorf("orders with this environment: %v", err)
	}
}
