package cli

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/stack-web/stack/config"
)

// Found by killing `stack up` at every moment of its start: a SIGTERM
// (or ^C) that came while the in-process [stack, migrate] ran, after the
// migration's last look at its context, was taken by the release and
// dropped: the release succeeded, up went on to serve (its prespawned
// worker with it) and only a second signal stopped it. A signal during
// the release fails it, whatever the step returns.
func TestBrkReleaseSignalDuringASucceedingStepFailsIt(t *testing.T) {
	var stderr bytes.Buffer
	c := &cmdEnv{stderr: &stderr, logger: slog.New(slog.NewTextHandler(&stderr, nil)), apps: map[string]App{
		"late": {Name: "late", Migrate: func(ctx context.Context, env Env) error {
			syscall.Kill(os.Getpid(), syscall.SIGTERM)
			<-ctx.Done() // the signal is the release's now
			return nil   // and the migration finishes anyway
		}},
	}}
	f := new(config.Default())
	f.Appserver.App = "late"
	f.RunDir = t.TempDir()
	f.Edge.Listen, f.Admin.Listen = []string{"127.0.0.1:0"}, ""
	f.Release = [][]string{{"stack", "migrate"}}
	err := c.runRelease(f)
	if err == nil || !strings.Contains(err.Error(), "signal") {
		t.Fatalf("runRelease with a SIGTERM during its step: %v, want an error naming the signal\n%s", err, stderr.String())
	}
}
