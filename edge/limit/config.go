// Package limit is the edge's request-rate and concurrency limits per
// client, as nginx's limit_req and limit_conn: a zone holds one bucket (or
// one counter) per key, bounded in memory, and answers whether the next
// request of a key may pass. It knows keys, not HTTP: the edge decides
// what the key of a request is and what the refusal looks like.
package limit

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// DefaultMaxClients bounds a zone's keys when max_clients is not given:
// about 20 MiB of buckets (nginx's 10m zone holds about 160,000 states).
const DefaultMaxClients = 100_000

// RateConfig is nginx's limit_req for a location (or, as edge.rate_limit,
// for every location that does not set its own). In stack.yaml:
//
//	rate_limit: {rate: 10r/s, burst: 5, key: remote_addr, status: 429}
//
// or the word off. The zero value (or off) limits nothing.
type RateConfig struct {
	// Rate is the sustained rate per key: "10r/s", "600r/m".
	Rate Rate `yaml:"rate"`
	// Burst is how many requests above the rate a key may send at once
	// (nginx's burst): 1+burst requests pass at once, then one per 1/rate.
	Burst int `yaml:"burst"`
	// Key is what counts as one client: "remote_addr" (default) or
	// "header:NAME" (a header set by a trusted proxy).
	Key string `yaml:"key"`
	// Status answers a refused request: 429 (default) or 503.
	Status int `yaml:"status"`
	// NoDelay (default true) refuses a request over rate+burst at once and
	// passes those within the burst at once. With false, requests within
	// the burst are held and passed at the rate (nginx without nodelay).
	NoDelay *bool `yaml:"nodelay"`
	// MaxClients bounds the keys remembered (default 100,000); past it the
	// key idle longest is forgotten, as nginx's zone drops its oldest.
	MaxClients int `yaml:"max_clients"`
	// Off is the word off: no limit here, even if edge.rate_limit sets one.
	Off bool `yaml:"-"`
}

// ConnConfig is nginx's limit_conn: how many requests of one key may be
// in progress at once. In stack.yaml: limit_conn: {max: 10, key: remote_addr, status: 503}.
type ConnConfig struct {
	// Max is the number of requests of one key in progress at once.
	Max int `yaml:"max"`
	// Key is as in RateConfig.
	Key string `yaml:"key"`
	// Status answers a refused request: 503 (default, nginx's) or 429.
	Status int `yaml:"status"`
	// MaxClients bounds the keys with requests in progress (default
	// 100,000); past it a new key is refused, as nginx's full zone.
	MaxClients int `yaml:"max_clients"`
	// Off is the word off.
	Off bool `yaml:"-"`
}

// UnmarshalScalar accepts the word off.
func (c *RateConfig) UnmarshalScalar(s string) error {
	if strings.TrimSpace(s) != "off" {
		return fmt.Errorf("%q is not off or {rate: 10r/s, burst: 5}", s)
	}
	*c = RateConfig{Off: true}
	return nil
}

// MarshalScalar shows off as the word.
func (c RateConfig) MarshalScalar() (string, bool) { return "off", c.Off }

// UnmarshalScalar accepts the word off.
func (c *ConnConfig) UnmarshalScalar(s string) error {
	if strings.TrimSpace(s) != "off" {
		return fmt.Errorf("%q is not off or {max: 10}", s)
	}
	*c = ConnConfig{Off: true}
	return nil
}

// MarshalScalar shows off as the word.
func (c ConnConfig) MarshalScalar() (string, bool) { return "off", c.Off }

// Enabled reports whether c limits anything.
func (c *RateConfig) Enabled() bool { return c != nil && !c.Off }

// Enabled reports whether c limits anything.
func (c *ConnConfig) Enabled() bool { return c != nil && !c.Off }

// Validate reports c's problems through bad, each under key (e.g.
// "rate_limit", or "locations[2].rate_limit").
func (c *RateConfig) Validate(key string, bad func(key, format string, args ...any)) {
	if !c.Enabled() {
		return
	}
	if c.Rate.PerSecond() <= 0 {
		bad(key+".rate", "missing; give a rate such as 10r/s or 600r/m (or rate_limit: off)")
	}
	if c.Burst < 0 {
		bad(key+".burst", "%d is negative", c.Burst)
	}
	validateCommon(key, c.Key, c.Status, c.MaxClients, bad)
}

// Validate reports c's problems through bad, each under key.
func (c *ConnConfig) Validate(key string, bad func(key, format string, args ...any)) {
	if !c.Enabled() {
		return
	}
	if c.Max <= 0 {
		bad(key+".max", "must be at least 1 (the requests of one client in progress at once)")
	}
	validateCommon(key, c.Key, c.Status, c.MaxClients, bad)
}

func validateCommon(key, k string, status, maxClients int, bad func(key, format string, args ...any)) {
	if _, _, err := ParseKey(k); err != nil {
		bad(key+".key", "%v", err)
	}
	if status != 0 && status != 429 && status != 503 {
		bad(key+".status", "%d is not 429 or 503", status)
	}
	if maxClients < 0 {
		bad(key+".max_clients", "%d is negative", maxClients)
	}
}

// ParseKey splits a key setting: "" or "remote_addr" → ("", false),
// "header:X-Real-IP" → ("X-Real-IP", true), canonicalised.
func ParseKey(s string) (header string, isHeader bool, err error) {
	switch {
	case s == "" || s == "remote_addr":
		return "", false, nil
	case strings.HasPrefix(s, "header:"):
		h := strings.TrimSpace(strings.TrimPrefix(s, "header:"))
		if h == "" || strings.ContainsAny(h, " \t:_") {
			return "", false, fmt.Errorf("%q names no usable header (header:X-Real-IP; names with _ never reach the edge)", s)
		}
		return canonical(h), true, nil
	}
	return "", false, fmt.Errorf("%q is not remote_addr or header:NAME", s)
}

// canonical is textproto's canonical form, without importing net/http here.
func canonical(h string) string {
	b := []byte(strings.ToLower(h))
	up := true
	for i, c := range b {
		if up && 'a' <= c && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
		up = c == '-'
	}
	return string(b)
}

// Rate is a number of requests per second or per minute, written as nginx
// writes it: 10r/s, 600r/m.
type Rate struct {
	N   int
	Per time.Duration // time.Second or time.Minute
}

// ParseRate parses "10r/s" or "600r/m".
func ParseRate(s string) (Rate, error) {
	t := strings.TrimSpace(s)
	var per time.Duration
	switch {
	case strings.HasSuffix(t, "r/s"):
		per = time.Second
	case strings.HasSuffix(t, "r/m"):
		per = time.Minute
	default:
		return Rate{}, fmt.Errorf("invalid rate %q: write it as nginx does, e.g. 10r/s or 600r/m", s)
	}
	n, err := strconv.Atoi(t[:len(t)-3])
	if err != nil || n <= 0 {
		return Rate{}, fmt.Errorf("invalid rate %q: the count must be a positive whole number, e.g. 10r/s", s)
	}
	return Rate{N: n, Per: per}, nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (r *Rate) UnmarshalText(b []byte) error {
	v, err := ParseRate(string(b))
	if err != nil {
		return err
	}
	*r = v
	return nil
}

// MarshalText implements encoding.TextMarshaler.
func (r Rate) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

func (r Rate) String() string {
	switch r.Per {
	case time.Second:
		return strconv.Itoa(r.N) + "r/s"
	case time.Minute:
		return strconv.Itoa(r.N) + "r/m"
	}
	return "0r/s"
}

// PerSecond is the rate in requests per second.
func (r Rate) PerSecond() float64 {
	if r.Per <= 0 {
		return 0
	}
	return float64(r.N) / r.Per.Seconds()
}
