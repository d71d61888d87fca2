// Package auth is django.contrib.auth for the framework: a users table,
// argon2id password hashes, login and logout (with the session key cycled
// and the CSRF secret rotated), login throttling per username and
// address, and LoginRequired and permission middleware.
//
// Users live in the app's database (database/sql; the SQL is SQLite's):
//
//	users, err := auth.New(db, auth.Options{SecretKey: settings.SecretKey})
//	u, err := users.Authenticate(ctx, username, password, clientAddr)
//	users.Login(r, u) // in a view; r is the *framework.Request
//
// The current user is read from the session only where it is asked for
// (User, LoginRequired): pages that do not ask cost no query.
package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Hasher hashes passwords with argon2id and writes its parameters into
// the hash, in Django's Argon2PasswordHasher format:
//
//	argon2$argon2id$v=19$m=102400,t=2,p=8$<salt>$<hash>
//
// so that they can be raised later: a hash made with other parameters
// still verifies, and Authenticate then re-hashes the password with the
// current ones (Django's "must_update").
type Hasher struct {
	Time    uint32 // passes over the memory (Django's time_cost)
	Memory  uint32 // KiB (Django's memory_cost)
	Threads uint8  // lanes (Django's parallelism)
}

// DefaultHasher has Django's current Argon2 parameters.
var DefaultHasher = Hasher{Time: 2, Memory: 102400, Threads: 8}

const (
	hashPrefix = "argon2$argon2id$"
	saltLen    = 16
	keyLen     = 32
)

// Hash returns the encoded hash of password with a fresh random salt.
func (h Hasher) Hash(password string) string {
	salt := make([]byte, saltLen)
	rand.Read(salt) // never fails (crypto/rand, Go 1.24+)
	return h.encode(password, salt)
}

func (h Hasher) encode(password string, salt []byte) string {
	key := argon2.IDKey([]byte(password), salt, h.Time, h.Memory, h.Threads, keyLen)
	return fmt.Sprintf("%sv=%d$m=%d,t=%d,p=%d$%s$%s", hashPrefix, argon2.Version, h.Memory, h.Time, h.Threads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
}

// ErrBadHash is returned for a stored hash this package cannot read.
var ErrBadHash = errors.New("auth: not an argon2id password hash")

// parsed is an encoded hash taken apart.
type parsed struct {
	params    Hasher
	salt, key []byte
}

func parse(encoded string) (parsed, error) {
	var p parsed
	rest, ok := strings.CutPrefix(encoded, hashPrefix)
	if !ok {
		return p, ErrBadHash
	}
	parts := strings.Split(rest, "$")
	if len(parts) != 4 {
		return p, ErrBadHash
	}
	var version int
	if _, err := fmt.Sscanf(parts[0], "v=%d", &version); err != nil || version != argon2.Version {
		return p, ErrBadHash
	}
	var m, t uint32
	var threads uint8
	if _, err := fmt.Sscanf(parts[1], "m=%d,t=%d,p=%d", &m, &t, &threads); err != nil || m == 0 || t == 0 || threads == 0 {
		return p, ErrBadHash
	}
	salt, err1 := base64.RawStdEncoding.DecodeString(parts[2])
	key, err2 := base64.RawStdEncoding.DecodeString(parts[3])
	if err1 != nil || err2 != nil || len(key) == 0 {
		return p, ErrBadHash
	}
	return parsed{params: Hasher{Time: t, Memory: m, Threads: threads}, salt: salt, key: key}, nil
}

// Verify reports whether password matches encoded (in constant time), and
// whether encoded was made with parameters other than h's and should be
// replaced by h.Hash(password).
func (h Hasher) Verify(password, encoded string) (ok, upgrade bool) {
	p, err := parse(encoded)
	if err != nil {
		return false, false
	}
	key := argon2.IDKey([]byte(password), p.salt, p.params.Time, p.params.Memory, p.params.Threads, uint32(len(p.key)))
	if subtle.ConstantTimeCompare(key, p.key) != 1 {
		return false, false
	}
	return true, p.params != h || len(p.key) != keyLen
}

// ValidatePassword is the package's ValidatePassword, for callers that
// hold an *Auth (the stack command line's Users).
func (a *Auth) ValidatePassword(password, username string) error {
	return ValidatePassword(password, username)
}

// hash is a.hasher.Hash once a hashing slot is free.
func (a *Auth) hash(password string) string {
	a.hashing <- struct{}{}
	defer func() { <-a.hashing }()
	return a.hasher.Hash(password)
}

// verify is a.hasher.Verify once a hashing slot is free.
func (a *Auth) verify(password, encoded string) (ok, upgrade bool) {
	a.hashing <- struct{}{}
	defer func() { <-a.hashing }()
	return a.hasher.Verify(password, encoded)
}
