package debugkey

import (
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/stack-web/stack/appserver"
	"github.com/stack-web/stack/config"
	"github.com/stack-web/stack/framework"
)

// TestUseWorkerDebugKey: a worker (Use) takes its master's key only for an app
// in debug with no secret_key of its own.
func TestUseWorkerDebugKey(t *testing.T) {
	env := Env()[0]
	key := strings.TrimPrefix(env, envName+"=")
	if len(key) < 50 {
		t.Fatalf("the shared key %q is short: the framework would flag it weak", key)
	}
	t.Setenv(envName, key)
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
		Use(f, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if s.SecretKey != tc.want {
			t.Errorf("debug %v, secret_key %q: got %q, want %q", tc.debug, tc.own, s.SecretKey, tc.want)
		}
	}
}
