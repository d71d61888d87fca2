package forms

import (
	"net/netip"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

// ValidEmail reports whether s is an email address an Email field takes,
// by the rules of Django's EmailValidator, so that an address Django
// refuses is refused here and one it takes is taken. Commands that take
// an address (createsuperuser) check it with the same rule.
//
// It used to be net/mail's reading of an address, whose grammar (RFC
// 5322's, for message headers) is not Django's: it took a@b.c, a@-b.com,
// a@b_c.com, a@1.2.3.4, a non-ASCII local part and any length, and
// refused a@localhost and "quoted local"@example.com, all of which
// Django judges the other way.
//
// Django's rule: at most 320 characters; the local part (before the last
// '@') a dot-atom of ASCII atext or a quoted string; the domain
// "localhost", or dotted labels of letters, digits and inner hyphens
// (63 at most) ending in a label of two or more letters, digits or
// hyphens (not ending in one), or an IP literal in brackets, or an
// internationalised name that is one of those once in its xn-- form.
func ValidEmail(s string) bool {
	at := strings.LastIndexByte(s, '@')
	if at < 0 || utf8.RuneCountInString(s) > 320 {
		return false
	}
	user, domain := s[:at], s[at+1:]
	if !emailUser(user) {
		return false
	}
	if domain == "localhost" || emailDomain(domain) {
		return true
	}
	ascii, err := idna.Lookup.ToASCII(domain)
	return err == nil && ascii != domain && emailDomain(ascii)
}

// emailUser is Django's user_regex: a dot-atom or a quoted string.
func emailUser(u string) bool {
	if len(u) >= 2 && u[0] == '"' && u[len(u)-1] == '"' {
		return quotedLocal(u[1 : len(u)-1])
	}
	if u == "" {
		return false
	}
	for _, atom := range strings.Split(u, ".") {
		if atom == "" {
			return false
		}
		for i := 0; i < len(atom); i++ {
			c := atom[i]
			if !(isAlnum(c) || strings.IndexByte("-!#$%&'*+/=?^_`{}|~", c) >= 0) {
				return false
			}
		}
	}
	return true
}

// quotedLocal checks the inside of a quoted local part as Django's
// pattern does: ASCII other than NUL, TAB, LF, CR, space, '"' and '\';
// a '\' escapes any ASCII byte but NUL, LF and CR ("a\ b" for a space).
func quotedLocal(q string) bool {
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case c == '\\':
			i++
			if i == len(q) || q[i] == 0 || q[i] == '\n' || q[i] == '\r' || q[i] > 0x7f {
				return false
			}
		case c == 0 || c == '\t' || c == '\n' || c == '\r' || c == ' ' || c == '"' || c > 0x7f:
			return false
		}
	}
	return true
}

// emailDomain is Django's domain_regex (host labels, then a top-level
// label of two or more), or its literal_regex with an IP address inside.
func emailDomain(d string) bool {
	if len(d) > 2 && d[0] == '[' && d[len(d)-1] == ']' {
		ip := d[1 : len(d)-1]
		for i := 0; i < len(ip); i++ {
			if c := ip[i] | 0x20; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || ip[i] == ':' || ip[i] == '.') {
				return false // no zone, no "IPv6:" tag: Django's [A-F0-9:.]+
			}
		}
		_, err := netip.ParseAddr(ip)
		return err == nil
	}
	labels := strings.Split(d, ".")
	if len(labels) < 2 {
		return false
	}
	for _, l := range labels[:len(labels)-1] {
		if l == "" || len(l) > 63 || !isAlnum(l[0]) || !isAlnum(l[len(l)-1]) {
			return false
		}
		for i := 0; i < len(l); i++ {
			if !isAlnum(l[i]) && l[i] != '-' {
				return false
			}
		}
	}
	tld := labels[len(labels)-1]
	if len(tld) < 2 || len(tld) > 63 || tld[len(tld)-1] == '-' {
		return false
	}
	for i := 0; i < len(tld); i++ {
		if !isAlnum(tld[i]) && tld[i] != '-' {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c|0x20 >= 'a' && c|0x20 <= 'z'
}
