package cli

import (
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/stack-web/stack/appserver"
	"github.com/stack-web/stack/config"
	"github.com/stack-web/stack/framework"
)

// TestUseWorkerDebugKey: a worker takes its master's key only for an app
// in debug with no secret_key of its own.
func TestUseWorkerDebugKey(t *testing.T) {
	env := workerDebugKey()[0]
	key := strings.TrimPrefix(env, workerDebugKeyEnv+"=")
	if len(key) < 50 {
		t.Fatalf("the shared key %q is short: the framework would flag it weak", key)
	}
	t.Setenv(workerDebugKeyEnv, key)
	for _, tc := range []struct {
		debug     bool
		own, want string
	}{
		{true, "", key},
		{true, "mine", "mine"},
		{false, "", ""},
	} {
		s := &framework.Settings{Debug: tc.debug, SecretKey: tc.own}
		f := &config.File{Appserver: appserver.Config{App: "site"}, Apps: map[string]any{"site": s}}
		useWorkerDebugKey(f, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if s.SecretKey != tc.want {
			t.Errorf("debug %v, secret_key %q: got %q, want %q", tc.debug, tc.own, s.SecretKey, tc.want)
		}
	}
}
