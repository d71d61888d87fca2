package e2e

import (
	"strings"
	"syscall"
	"testing"
	"time"
)

// afterTheStop is the line of the first signal that came once the stop
// was over, as the process exits.
const afterTheStop = "after the stop, as the process exits; ignoring it"

// After a graceful stop, the supervisor gave SIGINT, SIGTERM and SIGHUP
// their default action back as its Run returned, and one more of them
// before the process exited (its cleanup; a race build's second of sleep
// at exit) ended `up` by the signal, status 143, 130 or 129, instead of
// the stop's 0: a supervisor or `docker stop` repeating SIGTERM, ^C
// twice, a deploy's SIGHUP. After the first SIGTERM the three are sent in
// turn, back to back, until the process exits. With the fix, the first
// one that came after the stop is logged: a round without that line (a
// plain build's window is some microseconds) is tried again, and the test
// fails if none hit the window in its time.
func TestBrkSignalsAfterTheStopAreAbsorbed(t *testing.T) {
	for _, mode := range []string{"inprocess", "subprocess"} {
		t.Run(mode, func(t *testing.T) {
			hit := false
			for round, begin := 0, time.Now(); !hit && time.Since(begin) < 3*time.Second; round++ {
				dir := writeConfig(t, configBase+"  processes: 2\nmode: "+mode+"\n")
				// Not quickExit: a race build sleeps a second at exit (until a
				// signal cuts it short), which widens the window.
				p := configStart(t, dir, nil, "up")
				if p.serving(30*time.Second) == "" {
					t.Fatalf("round %d: not serving:\n%s", round, p.output())
				}
				p.cmd.Process.Signal(syscall.SIGTERM)
				sigs := []syscall.Signal{syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP}
				sent, stopped := 0, time.Now()
				for ended := false; !ended; {
					select {
					case <-p.done:
						ended = true
					default:
						p.cmd.Process.Signal(sigs[sent%len(sigs)])
						sent++
					}
				}
				if code, _ := p.exit(time.Second); code != 0 {
					t.Fatalf("round %d: exit %d (%v) after %d more signals, want the stop's 0:\n%s", round, code, p.err, sent, lastLines(p.output()))
				}
				hit = strings.Contains(p.output(), afterTheStop)
				t.Logf("round %d: %d more signals in the %v up took to exit; one after the stop: %v", round, sent, time.Since(stopped).Round(time.Millisecond), hit)
				assertNothingLeft(t, mode, dir, p)
			}
			if !hit {
				t.Fatal("no signal came after the stop, before the exit")
			}
		})
	}
}

// lastLines is the end of a long output: the stop's lines, not those of
// the thousands of signals it was sent.
func lastLines(out string) string {
	lines := strings.Split(out, "\n")
	if len(lines) > 40 {
		lines = lines[len(lines)-40:]
	}
	return strings.Join(lines, "\n")
}
