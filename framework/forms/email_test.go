package forms

import (
	"strings"
	"testing"
)

// ValidEmail judges an address as Django's EmailValidator does; the cases
// are from Django's validator tests and the differences net/mail's
// grammar had: it took a@b.c, hyphen-edged labels, underscores, an
// undotted IP, a non-ASCII local part and any length, and refused
// a@localhost, IP literals' IPv6 and quoted local parts.
func TestValidEmailAsDjango(t *testing.T) {
	for _, c := range []struct {
		addr string
		want bool
	}{
		{"email@here.com", true},
		{"weirder-email@here.and.there.com", true},
		{"email@[127.0.0.1]", true},
		{"email@[2001:dB8::1]", true},
		{"email@[::fffF:127.0.0.1]", true},
		{"example@valid-----hyphens.com", true},
		{"test@domain.with.idn.tld.उदाहरण.परीक्षा", true},
		{"a@bücher.de", true},
		{"email@localhost", true},
		{`"test@test"@example.com`, true},
		{`"a\ b"@example.com`, true},
		{"\"\\\t\"@here.com", true},
		{"a@b.123", true},
		{"example@atm." + strings.Repeat("a", 63), true},
		{"o'brien+tag@example.co", true},
		{"a@" + strings.Repeat(strings.Repeat("b", 60)+".", 5) + "com", true}, // 310 characters

		{"", false},
		{"abc", false},
		{"abc@", false},
		{"abc@bar", false},
		{"a @x.cz", false},
		{"abc@.com", false},
		{"something@@somewhere.com", false},
		{"email@127.0.0.1", false},
		{"a@1.2.3.4", false},
		{"email@[127.0.0.256]", false},
		{"email@[2001:dg8::1]", false},
		{"email@[fe80::1%eth0]", false},
		{"email@[IPv6:::1]", false},
		{"a@b.c", false},
		{"example@invalid-.com", false},
		{"example@-invalid.com", false},
		{"example@invalid.com-", false},
		{"a@b_c.com", false},
		{"a@b!c.com", false},
		{"trailingdot@shouldfail.com.", false},
		{"example@" + strings.Repeat("a", 64) + ".com", false},
		{"a@" + strings.Repeat(strings.Repeat("b", 60)+".", 6) + "com", false}, // 371 characters: over 320
		{"ü@example.com", false},
		{"a@LOCALHOST", false},
		{`"a b"@example.com`, false},
		{"\"\\\n\"@here.com", false},
		{"a@b.com\n", false},
		{"Ann <ann@example.com>", false},
		{".a@b.com", false},
		{"a..b@b.com", false},
	} {
		if got := ValidEmail(c.addr); got != c.want {
			t.Errorf("ValidEmail(%q) = %v, want %v (Django's EmailValidator)", c.addr, got, c.want)
		}
	}
}
