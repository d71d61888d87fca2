package cli

import (
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"os"

	"github.com/stack-web/stack/config"
	"github.com/stack-web/stack/framework"
)

// workerDebugKeyEnv passes a master's random secret key to its workers. It
// does not start with STACK_, so the configuration never reads it (nor
// warns about it): only a worker whose app is in debug with no secret_key
// uses it, in place of a key of its own.
const workerDebugKeyEnv = "STACKWORKER_DEBUG_SECRET_KEY"

// workerDebugKey is the environment a master gives its workers: one
// random key for all of them and for the workers that replace them. An
// app in debug without a secret_key would otherwise draw a key in each
// worker process (framework.New), and every worker would reject the
// others' session cookies: with two workers, or after a chain reload (each
// `stack dev` rebuild), a logged-in user is logged out and a form posted
// from an open page fails its CSRF check with 403.
func workerDebugKey() []string {
	b := make([]byte, 32)
	rand.Read(b) // never fails on Linux
	return []string{workerDebugKeyEnv + "=" + hex.EncodeToString(b)}
}

// useWorkerDebugKey gives the worker's app its master's key when the app
// is in debug and has none (the settings as this worker read them: a
// reload that sets secret_key or turns debug off is followed).
func useWorkerDebugKey(f *config.File, logger *slog.Logger) {
	s, ok := f.Apps[f.Appserver.App].(*framework.Settings)
	key := os.Getenv(workerDebugKeyEnv)
	if !ok || !s.Debug || s.SecretKey != "" || key == "" {
		return
	}
	s.SecretKey = key
	logger.Warn("secret_key is not set: using a random key shared by this master's workers (debug only); sessions will not survive a restart", "app", f.Appserver.App)
}
