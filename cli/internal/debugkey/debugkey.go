// Package debugkey is the secret key an appserver master shares with its
// workers when its app is in debug with no secret_key: one random key for
// all of them, passed in their environment, so that they accept each
// other's session cookies and CSRF tokens. It stands alone because it is
// one small contract between a master and its workers: cli gives the
// environment to the master and has each worker use it.
package debugkey

import (
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"os"

	"github.com/stack-web/stack/config"
	"github.com/stack-web/stack/framework"
)

// envName passes a master's random secret key to its workers. It
// does not start with STACK_, so the configuration never reads it (nor
// warns about it): only a worker whose app is in debug with no secret_key
// uses it, in place of a key of its own.
const envName = "STACKWORKER_DEBUG_SECRET_KEY"

// Env is the environment a master gives its workers: one
// random key for all of them and for the workers that replace them. An
// app in debug without a secret_key would otherwise draw a key in each
// worker process (framework.New), and every worker would reject the
// others' session cookies: with two workers, or after a chain reload (each
// `stack dev` rebuild), a logged-in user is logged out and a form posted
// from an open page fails its CSRF check with 403.
func Env() []string {
	b := make([]byte, 32)
	rand.Read(b) // never fails on Linux
	return []string{envName + "=" + hex.EncodeToString(b)}
}

// Use gives the worker's app its master's key when the app
// is in debug and has none (the settings as this worker read them: a
// reload that sets secret_key or turns debug off is followed).
func Use(f *config.File, logger *slog.Logger) {
	s, ok := f.Apps[f.Appserver.App].(*framework.Settings)
	key := os.Getenv(envName)
	if !ok || !s.Debug || s.SecretKey != "" || key == "" {
		return
	}
	s.SecretKey = key
	logger.Warn("secret_key is not set: using a random key shared by this master's workers (debug only); sessions will not survive a restart", "app", f.Appserver.App)
}
