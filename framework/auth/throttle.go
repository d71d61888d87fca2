package auth

import (
	"context"
	"fmt"
	"time"
)

// Throttle bounds failed logins within a window: per username (so a
// password cannot be guessed from many addresses) and per client address
// (so many usernames cannot be tried from one). The counts live in the
// database, so every worker process shares them.
type Throttle struct {
	PerUser    int           // failures for one username before it is locked out
	PerAddress int           // failures from one address before it is locked out
	Window     time.Duration // how long failures count, from the first
}

// DefaultThrottle allows 5 failures per username and 20 per address in
// 15 minutes.
var DefaultThrottle = Throttle{PerUser: 5, PerAddress: 20, Window: 15 * time.Minute}

// limit is the number of failures allowed for key.
func (t Throttle) limit(key string) int {
	if len(key) > 5 && key[:5] == "addr:" {
		return t.PerAddress
	}
	return t.PerUser
}

// blocked reports whether any key has used up its failures in the window.
func (a *Auth) blocked(ctx context.Context, keys []string) (bool, error) {
	cutoff := a.now().Add(-a.throttle.Window).Unix()
	for _, k := range keys {
		var n int
		err := a.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(failures), 0) FROM auth_throttle WHERE key = ? AND since > ?`, k, cutoff).Scan(&n)
		if err != nil {
			return false, fmt.Errorf("auth: reading login failures: %w", err)
		}
		if lim := a.throttle.limit(k); lim > 0 && n >= lim {
			return true, nil
		}
	}
	return false, nil
}

// record counts one failure against each key, starting a new window when
// the old one is over.
func (a *Auth) record(ctx context.Context, keys []string) error {
	now := a.now().Unix()
	cutoff := a.now().Add(-a.throttle.Window).Unix()
	// Forget windows that are over, so that failures from many addresses
	// do not grow the table for ever.
	if _, err := a.db.ExecContext(ctx, `DELETE FROM auth_throttle WHERE since <= ?`, cutoff); err != nil {
		return fmt.Errorf("auth: expiring login failures: %w", err)
	}
	for _, k := range keys {
		_, err := a.db.ExecContext(ctx, `INSERT INTO auth_throttle (key, failures, since) VALUES (?, 1, ?)
			ON CONFLICT(key) DO UPDATE SET
				failures = CASE WHEN since > ? THEN failures + 1 ELSE 1 END,
				since    = CASE WHEN since > ? THEN since ELSE excluded.since END`, k, now, cutoff, cutoff)
		if err != nil {
			return fmt.Errorf("auth: recording a login failure: %w", err)
		}
	}
	return nil
}

// reset forgets key's failures (a successful login for that username).
func (a *Auth) reset(ctx context.Context, key string) error {
	if _, err := a.db.ExecContext(ctx, `DELETE FROM auth_throttle WHERE key = ?`, key); err != nil {
		return fmt.Errorf("auth: resetting login failures: %w", err)
	}
	return nil
}
