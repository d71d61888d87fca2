package auth

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/stack-web/stack/framework/forms"
)

// Options configure Auth. Zero values mean the defaults.
type Options struct {
	// SecretKey is the app's secret_key: the session carries an HMAC of
	// the user's password hash under it, so that changing the password
	// logs out every other session (Django's session auth hash).
	SecretKey string
	// SecretKeyFallbacks are the app's secret_key_fallbacks: sessions whose
	// hash was made with one of them stay logged in (and get the current
	// key's hash), so that rotating the key logs nobody out.
	SecretKeyFallbacks []string
	// Hasher hashes new passwords (DefaultHasher).
	Hasher *Hasher
	// Throttle bounds failed logins (DefaultThrottle).
	Throttle *Throttle
	// SessionAge is the session cookie's age (the app's
	// session_cookie_age; two weeks by default): how long the key of a
	// logged-out session is remembered as ended.
	SessionAge time.Duration
	// Logger receives failed and throttled logins.
	Logger *slog.Logger
	// Now is the clock (time.Now); tests move it.
	Now func() time.Time
}

// Auth is the users of one database: hashing, authentication, sessions.
type Auth struct {
	db       *sql.DB
	secret   []byte
	fallback [][]byte
	hasher   Hasher
	throttle Throttle
	maxAge   time.Duration // of a session: how long an ended one is remembered
	logger   *slog.Logger
	now      func() time.Time

	dummyOnce sync.Once
	dummy     string // a hash to verify against for unknown users, so they take as long

	// hashing bounds the password hashes computed at once to the CPUs
	// Go uses: each takes the hasher's Memory (Django's 100 MiB) while a
	// hash that waits takes none, and more at once finish no sooner. 20
	// failed logins sent at once (one address's allowance) grew a
	// worker to 1.2 GiB, and a few addresses could exhaust the machine
	// (break-it 15).
	hashing chan struct{}
}

// User is a row of auth_user, Django's User.
type User struct {
	ID          int64
	Username    string
	Email       string
	IsStaff     bool // may use the admin
	IsSuperuser bool // has every permission
	IsActive    bool // may log in
	LastLogin   time.Time
	DateJoined  time.Time

	password string
	perms    map[string]bool
}

// HasPerm reports whether u has permission codename ("polls.change_question"),
// Django's has_perm: an active superuser has all.
func (u *User) HasPerm(codename string) bool {
	if u == nil || !u.IsActive {
		return false
	}
	return u.IsSuperuser || u.perms[codename]
}

// String is the username.
func (u *User) String() string { return u.Username }

// schema is created if missing: auth owns these tables in the app's database.
const schema = `
CREATE TABLE IF NOT EXISTS auth_user (
	id           INTEGER PRIMARY KEY,
	username     TEXT    NOT NULL UNIQUE,
	password     TEXT    NOT NULL,
	email        TEXT    NOT NULL DEFAULT '',
	is_staff     INTEGER NOT NULL DEFAULT 0,
	is_superuser INTEGER NOT NULL DEFAULT 0,
	is_active    INTEGER NOT NULL DEFAULT 1,
	last_login   INTEGER,              -- unix seconds
	date_joined  INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS auth_user_permission (
	user_id  INTEGER NOT NULL REFERENCES auth_user(id) ON DELETE CASCADE,
	codename TEXT    NOT NULL,
	PRIMARY KEY (user_id, codename)
);
CREATE TABLE IF NOT EXISTS auth_session_ended (
	key   TEXT    PRIMARY KEY,         -- the Key of a logged-out session
	until INTEGER NOT NULL             -- unix seconds: its cookie has expired by then
);
CREATE TABLE IF NOT EXISTS auth_throttle (
	key      TEXT    PRIMARY KEY,      -- "user:NAME" or "addr:IP"
	failures INTEGER NOT NULL,
	since    INTEGER NOT NULL          -- unix seconds of the window's first failure
);`

// New returns the users of db, creating their tables if missing.
func New(db *sql.DB, o Options) (*Auth, error) {
	if _, err := db.Exec(schema); err != nil {
		return nil, fmt.Errorf("auth: creating the users tables: %w", err)
	}
	a := &Auth{db: db, secret: []byte(o.SecretKey), hasher: DefaultHasher, throttle: DefaultThrottle, logger: o.Logger, now: o.Now,
		hashing: make(chan struct{}, runtime.GOMAXPROCS(0))}
	for _, k := range o.SecretKeyFallbacks {
		a.fallback = append(a.fallback, []byte(k))
	}
	if o.Hasher != nil {
		a.hasher = *o.Hasher
	}
	if o.Throttle != nil {
		a.throttle = *o.Throttle
	}
	if a.maxAge = o.SessionAge; a.maxAge <= 0 {
		a.maxAge = 1209600 * time.Second // Django's SESSION_COOKIE_AGE
	}
	if a.logger == nil {
		a.logger = slog.New(slog.DiscardHandler)
	}
	if a.now == nil {
		a.now = time.Now
	}
	return a, nil
}

// Errors of the user store.
var (
	ErrNoUser       = errors.New("auth: no such user")
	ErrUserExists   = errors.New("auth: that username is already taken")
	ErrBadUsername  = errors.New("auth: a username is 1 to 150 letters, digits and @.+-_")
	ErrBadEmail     = errors.New("Enter a valid email address.") // Django's EmailValidator message, shown as is
	ErrInvalidLogin = errors.New("auth: wrong username or password")
	ErrThrottled    = errors.New("auth: too many failed logins; try again later")
)

// validUsername is Django's UnicodeUsernameValidator, ASCII only.
func validUsername(name string) bool {
	if name == "" || len(name) > 150 {
		return false
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("@.+-_", c)) {
			return false
		}
	}
	return true
}

// ValidateUsername returns ErrBadUsername (naming it) for a username
// CreateUser would refuse, so that a dialogue (createsuperuser) can say
// so before it asks for the password.
func (a *Auth) ValidateUsername(username string) error {
	if !validUsername(username) {
		return fmt.Errorf("%w: %q", ErrBadUsername, username)
	}
	return nil
}

// ValidateEmail returns ErrBadEmail for an email address CreateUser
// would refuse (one an Email form field refuses; "" is no address and
// is taken), so that a dialogue (createsuperuser) can ask again.
func (a *Auth) ValidateEmail(email string) error {
	if email != "" && !forms.ValidEmail(email) {
		return ErrBadEmail
	}
	return nil
}

// CreateUser adds a user with password hashed (an empty password is
// unusable: no login), Django's create_user / create_superuser.
func (a *Auth) CreateUser(ctx context.Context, username, email, password string, staff, superuser bool) (*User, error) {
	if err := a.ValidateUsername(username); err != nil {
		return nil, err
	}
	if err := a.ValidateEmail(email); err != nil {
		return nil, err
	}
	hash := "!" // Django's unusable password
	if password != "" {
		hash = a.hash(password)
	}
	now := a.now()
	res, err := a.db.ExecContext(ctx, `INSERT INTO auth_user (username, password, email, is_staff, is_superuser, is_active, date_joined)
		VALUES (?, ?, ?, ?, ?, 1, ?)`, username, hash, email, staff, superuser, now.Unix())
	if err != nil {
		if strings.Contains(err.Error(), "UNIQUE") {
			return nil, fmt.Errorf("%w: %q", ErrUserExists, username)
		}
		return nil, fmt.Errorf("auth: creating user %q: %w", username, err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return nil, fmt.Errorf("auth: creating user %q: %w", username, err)
	}
	return &User{ID: id, Username: username, Email: email, IsStaff: staff, IsSuperuser: superuser, IsActive: true,
		DateJoined: time.Unix(now.Unix(), 0), password: hash}, nil
}

// CreateSuperuser adds a staff superuser, as `manage.py createsuperuser`.
func (a *Auth) CreateSuperuser(ctx context.Context, username, email, password string) error {
	_, err := a.CreateUser(ctx, username, email, password, true, true)
	return err
}

// SetPassword replaces username's password (Django's set_password +
// save), which ends every session logged in with the old one.
func (a *Auth) SetPassword(ctx context.Context, username, password string) error {
	res, err := a.db.ExecContext(ctx, `UPDATE auth_user SET password = ? WHERE username = ?`, a.hash(password), username)
	if err != nil {
		return fmt.Errorf("auth: setting the password of %q: %w", username, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("%w: %q", ErrNoUser, username)
	}
	return nil
}

// GrantPermission gives username permission codename.
func (a *Auth) GrantPermission(ctx context.Context, username, codename string) error {
	res, err := a.db.ExecContext(ctx, `INSERT OR IGNORE INTO auth_user_permission (user_id, codename)
		SELECT id, ? FROM auth_user WHERE username = ?`, codename, username)
	if err != nil {
		return fmt.Errorf("auth: granting %s to %q: %w", codename, username, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		if ok, _ := a.HasUser(ctx, username); !ok {
			return fmt.Errorf("%w: %q", ErrNoUser, username)
		}
	}
	return nil
}

// HasUser reports whether a user called username exists: `stack
// changepassword` asks it before any prompt, as Django's does.
func (a *Auth) HasUser(ctx context.Context, username string) (bool, error) {
	var one int
	err := a.db.QueryRowContext(ctx, `SELECT 1 FROM auth_user WHERE username = ?`, username).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("auth: reading user %q: %w", username, err)
	}
	return true, nil
}

const userColumns = `id, username, password, email, is_staff, is_superuser, is_active, COALESCE(last_login, 0), date_joined`

// lookup reads one user by a column (username or id) and their permissions.
func (a *Auth) lookup(ctx context.Context, where string, arg any) (*User, error) {
	u := &User{}
	var last, joined int64
	err := a.db.QueryRowContext(ctx, `SELECT `+userColumns+` FROM auth_user WHERE `+where+` = ?`, arg).
		Scan(&u.ID, &u.Username, &u.password, &u.Email, &u.IsStaff, &u.IsSuperuser, &u.IsActive, &last, &joined)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNoUser
	}
	if err != nil {
		return nil, fmt.Errorf("auth: reading user %v: %w", arg, err)
	}
	if last > 0 {
		u.LastLogin = time.Unix(last, 0)
	}
	u.DateJoined = time.Unix(joined, 0)
	if u.IsSuperuser {
		return u, nil // has every permission: no need to read them
	}
	rows, err := a.db.QueryContext(ctx, `SELECT codename FROM auth_user_permission WHERE user_id = ?`, u.ID)
	if err != nil {
		return nil, fmt.Errorf("auth: reading the permissions of %s: %w", u.Username, err)
	}
	defer rows.Close()
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			return nil, fmt.Errorf("auth: reading the permissions of %s: %w", u.Username, err)
		}
		if u.perms == nil {
			u.perms = map[string]bool{}
		}
		u.perms[c] = true
	}
	return u, rows.Err()
}

// GetUser returns the user called username.
func (a *Auth) GetUser(ctx context.Context, username string) (*User, error) {
	return a.lookup(ctx, "username", username)
}

// Authenticate checks username and password, Django's authenticate(),
// with throttling: after too many failures for the username or from addr
// (the client's IP) within the window, it returns ErrThrottled without
// looking at the password. A hash with old parameters is upgraded here.
// Unknown users take as long as known ones.
func (a *Auth) Authenticate(ctx context.Context, username, password, addr string) (*User, error) {
	keys := []string{"user:" + strings.ToLower(username), "addr:" + addr}
	if ok, err := a.take(ctx, keys); err != nil {
		return nil, err
	} else if !ok {
		a.logger.Warn("login throttled", "username", username, "addr", addr)
		return nil, ErrThrottled
	}
	u, err := a.GetUser(ctx, username)
	if errors.Is(err, ErrNoUser) {
		a.dummyOnce.Do(func() { a.dummy = a.hash("no such user") }) // made on first use: New stays cheap
		a.verify(password, a.dummy)
		return nil, a.fail(username, addr)
	}
	if err != nil {
		return nil, err
	}
	ok, upgrade := a.verify(password, u.password)
	if !ok || !u.IsActive {
		return nil, a.fail(username, addr)
	}
	if upgrade {
		u.password = a.hash(password)
		if _, err := a.db.ExecContext(ctx, `UPDATE auth_user SET password = ? WHERE id = ?`, u.password, u.ID); err != nil {
			return nil, fmt.Errorf("auth: upgrading the password hash of %s: %w", u.Username, err)
		}
		a.logger.Info("password hash upgraded to the current parameters", "username", u.Username)
	}
	if err := a.succeeded(ctx, keys); err != nil {
		return nil, err
	}
	return u, nil
}

// fail logs a failed login (counted by take already) and returns
// ErrInvalidLogin.
func (a *Auth) fail(username, addr string) error {
	a.logger.Info("login failed", "username", username, "addr", addr)
	return ErrInvalidLogin
}

// SetHasher replaces the hasher of new hashes (and the parameters older
// ones are upgraded to). Call it before serving: tests use cheap
// parameters with it.
func (a *Auth) SetHasher(h Hasher) { a.hasher = h }
