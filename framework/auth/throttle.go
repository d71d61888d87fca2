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

// take counts an attempt against every key before its password is
// checked, so that attempts made at once (by this process or another
// worker) cannot all pass the check before any of them is counted: each
// takes one of its keys' failures, atomically in the database, or finds
// one key used up and is throttled (taking nothing). A failed attempt
// keeps what it took; a successful one gives it back (succeeded).
func (a *Auth) take(ctx context.Context, keys []string) (bool, error) {
	now := a.now().Unix()
	cutoff := a.now().Add(-a.throttle.Window).Unix()
	// Forget windows that are over, so that failures from many addresses
	// do not grow the table for ever.
	if _, err := a.db.ExecContext(ctx, `DELETE FROM auth_throttle WHERE since <= ?`, cutoff); err != nil {
		return false, fmt.Errorf("auth: expiring login failures: %w", err)
	}
	for i, k := range keys {
		// A window that is over starts again at 1; a live one counts up
		// unless it is at its limit (0: none), when nothing changes.
		res, err := a.db.ExecContext(ctx, `INSERT INTO auth_throttle (key, failures, since) VALUES (?, 1, ?)
			ON CONFLICT(key) DO UPDATE SET
				failures = CASE WHEN since > ? THEN failures + 1 ELSE 1 END,
				since    = CASE WHEN since > ? THEN since ELSE excluded.since END
			WHERE ? <= 0 OR since <= ? OR failures < ?`, k, now, cutoff, cutoff, a.throttle.limit(k), cutoff, a.throttle.limit(k))
		if err != nil {
			return false, fmt.Errorf("auth: counting a login attempt: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return false, fmt.Errorf("auth: counting a login attempt: %w", err)
		} else if n == 0 {
			return false, a.release(ctx, keys[:i])
		}
	}
	return true, nil
}

// release gives back the attempts taken against keys.
func (a *Auth) release(ctx context.Context, keys []string) error {
	for _, k := range keys {
		if _, err := a.db.ExecContext(ctx, `UPDATE auth_throttle SET failures = failures - 1 WHERE key = ? AND failures > 0`, k); err != nil {
			return fmt.Errorf("auth: releasing a login attempt: %w", err)
		}
	}
	return nil
}

// succeeded forgets the username's failures (keys[0]) and gives back the
// attempt taken against the others (the address).
func (a *Auth) succeeded(ctx context.Context, keys []string) error {
	if _, err := a.db.ExecContext(ctx, `DELETE FROM auth_throttle WHERE key = ?`, keys[0]); err != nil {
		return fmt.Errorf("auth: resetting login failures: %w", err)
	}
	return a.release(ctx, keys[1:])
}
