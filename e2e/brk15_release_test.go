package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// A release step that serves until stopped is refused before anything
// runs: with `release: [[stack, up]]`, each `stack up` ran its release,
// another `stack up` (the ports were not taken yet), without end, a
// process more every few milliseconds until the machine's memory was
// gone; `[stack, edge]` held the start for ever (break-it 15).
func TestBrkReleaseThatServesIsRefused(t *testing.T) {
	for _, step := range []string{"[stack, up]", "[stack, --log-level, debug, edge]"} {
		t.Run(step, func(t *testing.T) {
			dir := writeConfig(t, fmt.Sprintf(`
edge:
  listen: ["127.0.0.1:%d"]
admin:
  listen: ""
release:
  - %s
appserver:
  app: hello
`, freePort(t), step))
			p := configStart(t, dir, opsFastExit, "up")
			code, ok := p.exit(10 * time.Second)
			out := p.output()
			if !ok {
				t.Fatalf("up with release %s still ran after 10 s (%d nested releases shown):\n%.2000s", step, strings.Count(out, "[release] [release]"), out)
			}
			if code != 1 || !strings.Contains(out, "serves until it is stopped, so the release would never end") {
				t.Errorf("exit %d, want 1 and the reason:\n%s", code, out)
			}
			if strings.Contains(out, "[release]") {
				t.Errorf("the step ran:\n%s", out)
			}
		})
	}
}
