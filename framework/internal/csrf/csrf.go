// Package csrf holds the request-independent half of the framework's CSRF
// protection, as Django's django.middleware.csrf: random secrets, the
// per-page masked tokens (a one-time pad, against BREACH) and their
// inverse, and the csrf_trusted_origins rules for the Origin and Referer
// checks. It stands alone because it is pure token arithmetic and origin
// matching; the framework's CSRF middleware keeps the request side (the
// session that stores the secret, the form that carries the token).
package csrf

import (
	"crypto/rand"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// Secret and token sizes, as Django's CSRF_SECRET_LENGTH and CSRF_TOKEN_LENGTH.
const (
	SecretLen = 32            // a secret's length
	TokenLen  = 2 * SecretLen // a masked token's: the mask, then the cipher
	chars     = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
)

// index maps a token character to its position in chars, -1 if none.
var index = func() (t [256]int8) {
	for i := range t {
		t[i] = -1
	}
	for i := 0; i < len(chars); i++ {
		t[chars[i]] = int8(i)
	}
	return t
}()

// Origins are the csrf_trusted_origins, compiled.
type Origins struct {
	origins      []string    // trusted origins, exact: "https://example.com"
	wildOrigins  [][2]string // "https://*.example.com" as {"https://", ".example.com"}
	trustedHosts []string    // their hosts, for the Referer check (".example.com" for a wildcard)
}

// NewOrigins compiles csrf_trusted_origins ("https://example.com",
// "https://*.example.com"), already validated by the settings.
func NewOrigins(trusted []string) Origins {
	var cfg Origins
	for _, o := range trusted {
		o = strings.ToLower(strings.TrimSuffix(o, "/"))
		if scheme, host, ok := strings.Cut(o, "://*."); ok {
			cfg.wildOrigins = append(cfg.wildOrigins, [2]string{scheme + "://", "." + host})
			cfg.trustedHosts = append(cfg.trustedHosts, "."+host)
			continue
		}
		cfg.origins = append(cfg.origins, o)
		if _, host, ok := strings.Cut(o, "://"); ok {
			cfg.trustedHosts = append(cfg.trustedHosts, host)
		}
	}
	return cfg
}

// OriginOK reports whether an Origin header names this site (scheme://host,
// the scheme from secure) or a trusted one.
func (c *Origins) OriginOK(origin string, secure bool, host string) bool {
	scheme := "http://"
	if secure {
		scheme = "https://"
	}
	if len(origin) == len(scheme)+len(host) && strings.EqualFold(origin, scheme+host) {
		return true
	}
	o := strings.ToLower(origin)
	for _, t := range c.origins {
		if o == t {
			return true
		}
	}
	for _, w := range c.wildOrigins {
		if h, ok := strings.CutPrefix(o, w[0]); ok && strings.HasSuffix(h, w[1]) {
			return true
		}
	}
	return false
}

// RefererReason checks the Referer of an HTTPS request without Origin, as
// Django does: "" when it is this host or a trusted one over https, else
// the reason of the rejection (Django's wording).
func (c *Origins) RefererReason(r *http.Request) string {
	ref := r.Header.Get("Referer")
	if ref == "" {
		return "Referer checking failed - no Referer."
	}
	u, err := url.Parse(ref)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return "Referer checking failed - Referer is malformed."
	}
	if u.Scheme != "https" {
		return "Referer checking failed - Referer is insecure while host is secure."
	}
	host := strings.ToLower(u.Host)
	if host == strings.ToLower(r.Host) {
		return ""
	}
	for _, t := range c.trustedHosts {
		if host == t || t[0] == '.' && strings.HasSuffix(host, t) {
			return ""
		}
	}
	return fmt.Sprintf("Referer checking failed - %s does not match any trusted origins.", ref)
}

// NewSecret returns a new random secret of SecretLen token characters
// (also used as a session's key).
func NewSecret() string {
	var b [SecretLen]byte
	for i := 0; i < len(b); {
		var r [48]byte
		rand.Read(r[:])
		for _, c := range r {
			if c < 248 && i < len(b) { // 248 = 4*62: no modulo bias
				b[i] = chars[int(c)%len(chars)]
				i++
			}
		}
	}
	return string(b[:])
}

// Mask returns mask+cipher with cipher[i] = secret[i] + mask[i]
// (mod 62), Django's _mask_cipher_secret.
func Mask(secret string) string {
	mask := NewSecret()
	var b [TokenLen]byte
	copy(b[:], mask)
	for i := 0; i < SecretLen; i++ {
		b[SecretLen+i] = chars[(int(index[secret[i]])+int(index[mask[i]]))%len(chars)]
	}
	return string(b[:])
}

// Unmask inverts Mask. token must be TokenLen characters that ValidChars accepts.
func Unmask(token string) string {
	var b [SecretLen]byte
	for i := 0; i < SecretLen; i++ {
		b[i] = chars[(int(index[token[SecretLen+i]])-int(index[token[i]])+len(chars))%len(chars)]
	}
	return string(b[:])
}

// ValidChars reports whether s is made of token characters only (so JSON
// needs no escape for it either).
func ValidChars(s string) bool {
	for i := 0; i < len(s); i++ {
		if index[s[i]] < 0 {
			return false
		}
	}
	return true
}
