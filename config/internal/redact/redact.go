// Package redact hides the secrets of a configuration rendered as YAML
// (stack config, the admin's /config and /status): the values of keys
// named like secrets, as Django's debug pages do, of KEY=VALUE entries and
// secret flags in commands, and the passwords of URLs and connection
// strings anywhere.
package redact

import (
	"regexp"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"
)

// hiddenKey matches the names of settings that hold secrets, as Django's
// HIDDEN_SETTINGS does, and the variables that hold credentials by other
// names (AUTHORIZATION, DB_CREDENTIALS).
var hiddenKey = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`(?i)api|token|key|secret|pass|signature|http_cookie|auth|credential`)
})

// Redacted stands for a secret's value, as in Django's debug pages.
const Redacted = "********************"

// urlPassword matches the password of a URL's user information
// (postgres://user:PASSWORD@host/db), which a key's name does not reveal:
// database: or DATABASE_URL= hold one.
// The password runs to the last @ before the host: an unencoded @ in it
// (p@ss) is common, and what follows the first @ is still the password.
var urlPassword = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`(://[^/?#@\s:]*:)[^/?#\s]*@`) })

// dsnPassword matches a password given as key=value: a libpq connection
// string (host=db password=...), a URL's query (?password=...).
var dsnPassword = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`(?i)(\b(?:password|passwd|pwd)=)('[^']*'|[^\s&;'"]+)`)
})

// Node replaces the values of secret keys in a rendered configuration,
// the values of secret KEY=VALUE entries (a process's env), and the
// passwords of URLs and connection strings anywhere.
func Node(n *yaml.Node, chosenName func(key *yaml.Node) bool) {
	switch n.Kind {
	case yaml.MappingNode:
		secretName := namesASecret(n)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if (hiddenKey().MatchString(k.Value) && !chosenName(k)) || (secretName && k.Value == "value") {
				hide(v) // secret_key: ..., api_keys: [a, b], or {name: X-Token, value: ...}
				continue
			}
			Node(v, chosenName)
		}
	case yaml.SequenceNode:
		hideNext := false // the value of a secret flag given apart: --token T
		for i, c := range n.Content {
			if c.Kind == yaml.ScalarNode {
				if hideNext {
					hideNext = false
					if c.Value != "" {
						n.Content[i] = scalar(Redacted)
						continue
					}
				}
				if k, _, ok := strings.Cut(c.Value, "="); ok && hiddenKey().MatchString(k) {
					n.Content[i] = scalar(k + "=" + Redacted)
					continue
				}
				if name, _, ok := strings.Cut(c.Value, ":"); ok && headerName().MatchString(name) && hiddenKey().MatchString(name) {
					n.Content[i] = scalar(name + ": " + Redacted) // curl -H 'Authorization: Bearer T'
					continue
				}
				switch {
				case c.Value == "-u" || c.Value == "--user" || c.Value == "--proxy-user":
					// curl's user:password: the flag's name does not say so
					if i+1 < len(n.Content) {
						if user, _, ok := strings.Cut(n.Content[i+1].Value, ":"); ok {
							n.Content[i+1].Value = user + ":" + Redacted
						}
					}
				case strings.HasPrefix(c.Value, "-") && hiddenKey().MatchString(c.Value):
					hideNext = true
				}
			}
			Node(c, chosenName)
		}
	case yaml.ScalarNode:
		v := urlPassword().ReplaceAllString(n.Value, "${1}"+Redacted+"@")
		v = dsnPassword().ReplaceAllString(v, "${1}"+Redacted)
		if v != n.Value {
			*n = *scalar(v)
		}
	}
}

// namesASecret says whether mapping n is a name and its value (an edge
// location's header: {name: X-Internal-Token, value: ...}) whose name is
// a secret's.
func namesASecret(n *yaml.Node) bool {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k, v := n.Content[i], n.Content[i+1]; k.Value == "name" && v.Kind == yaml.ScalarNode {
			return hiddenKey().MatchString(v.Value)
		}
	}
	return false
}

// headerName matches an HTTP header's name, before the colon of a
// "Name: value" argument.
var headerName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9-]+$`) })

// hide replaces every value under a secret key.
func hide(n *yaml.Node) {
	switch n.Kind {
	case yaml.ScalarNode:
		if n.Value != "" && n.Tag != "!!null" {
			*n = *scalar(Redacted)
		}
	case yaml.MappingNode:
		for i := 1; i < len(n.Content); i += 2 {
			hide(n.Content[i])
		}
	case yaml.SequenceNode:
		for _, c := range n.Content {
			hide(c)
		}
	}
}

// scalar is a string node, quoted when empty (as config's encoder makes them).
func scalar(s string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.ScalarNode, Value: s}
	if s == "" {
		n.Style = yaml.DoubleQuotedStyle
	}
	return n
}
