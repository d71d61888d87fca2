package hostmatch

import (
	"strings"
	"testing"
)

// The table as the certificate manager uses it: SNI names (no port), no
// default until one is set.
func TestTableBySNI(t *testing.T) {
	var tb Table[string]
	for name, v := range map[string]string{"Example.com.": "apex", "*.example.com": "any", "*.api.example.com": "api", "::1": "v6", "[::2]": "v6b"} {
		if err := tb.Add(name, v); err != nil {
			t.Fatalf("Add(%q): %v", name, err)
		}
	}
	for _, c := range []struct {
		host, want string
		ok         bool
	}{
		{"example.com", "apex", true}, {"www.example.com", "any", true}, {"v1.api.example.com", "api", true},
		{"api.example.com", "any", true}, {"EXAMPLE.COM", "apex", true}, {"[::1]", "v6", true}, {"[::2]:443", "v6b", true},
		{"example.org", "", false}, {"", "", false},
	} {
		if got, ok := tb.Lookup(c.host); got != c.want || ok != c.ok {
			t.Errorf("Lookup(%q) = %q, %v; want %q, %v", c.host, got, ok, c.want, c.ok)
		}
	}
	tb.SetDefault("fallback")
	if got, ok := tb.Lookup("example.org"); got != "fallback" || !ok {
		t.Errorf("with a default: %q, %v", got, ok)
	}
	for _, bad := range []string{"a.*.com", "www.example.*", "*", "a.test:443", "", "a..b", ".a.b"} {
		if err := tb.Add(bad, "x"); err == nil {
			t.Errorf("Add(%q) accepted", bad)
		}
	}
}

// A Host is as long as edge.max_header_size lets it be (32 KiB by
// default). Made of thousands of labels, it used to cost one map lookup
// per label, each hashing the rest of the Host: quadratic, 7 ms of CPU a
// request with 20 wildcard names. Only the suffixes as long as the
// longest wildcard are looked up now, and the answer is the same.
func TestLongHostLooksUpFewSuffixes(t *testing.T) {
	var tb Table[string]
	for _, n := range []string{"*.example.com", "*.api.example.com", "*.test"} {
		if err := tb.Add(n, n); err != nil {
			t.Fatal(err)
		}
	}
	long := strings.Repeat("a.", 16000)
	for host, want := range map[string]string{long + "api.example.com": "*.api.example.com", long + "example.com": "*.example.com", long + "x.test": "*.test", long + "example.org": ""} {
		n := 0
		for range tb.suffixes(Canonical(host)) {
			n++
		}
		if n > 8 {
			t.Errorf("a Host of %d bytes: %d suffixes looked up, want at most 8 (one per label in the last 16 bytes, the longest wildcard's length)", len(host), n)
		}
		if got, _ := tb.Lookup(host); got != want {
			t.Errorf("Lookup(%d bytes ending %q) = %q, want %q", len(host), host[len(long):], got, want)
		}
	}
	host := long + "x.api.example.com"
	if n := testing.AllocsPerRun(10, func() { tb.Lookup(host) }); n != 0 {
		t.Errorf("Lookup allocates %v times", n)
	}
}

// A name written as an IPv6 address is kept in its canonical form; a Host
// may write the same address otherwise (curl sends what the URL says), and
// used to miss its server.
func TestIPv6HostInAnyForm(t *testing.T) {
	var tb Table[string]
	for _, n := range []string{"::1", "2001:DB8::a", "*.example.com"} {
		if err := tb.Add(n, n); err != nil {
			t.Fatal(err)
		}
	}
	for host, want := range map[string]string{
		"[::1]": "::1", "[0:0:0:0:0:0:0:1]:8000": "::1", "[0::0001]": "::1",
		"[2001:db8::a]": "2001:DB8::a", "[2001:0DB8:0:0::A]:443": "2001:DB8::a",
		"[::2]": "", "[::1%eth0]": "", "[x.example.com]": "",
	} {
		if got, _ := tb.Lookup(host); got != want {
			t.Errorf("Lookup(%q) = %q, want %q", host, got, want)
		}
	}
}

// The shapes of Host the edge routes, and those it answers 400: nginx's
// (an empty label or name) and the RFC's port and IP literal, which nginx
// lets by ("a.test:80:80" went to the default server, "[::1" to [::1]'s).
func TestValidHostShape(t *testing.T) {
	for h, want := range map[string]bool{
		"": true, "a.test": true, "A.Test.": true, "a.test:8000": true, "a.test:": true, "[::1]": true,
		"[::1]:8000": true, "[fe80::1%25eth0]:80": true, "127.0.0.1:80": true, "_x.test": true,
		"a.test:80:80": false, "a.test:8x": false, "[::1": false, "[::1:80": false, "[::1]x": false,
		"[::1]:80:80": false, "[]": false, "[]:80": false, "a[b]": false, "a]b": false, "a.test:[80]": false,
		":80": false, ".": false, ".:80": false, "a..b": false, "..": false, "a..b:80": false,
	} {
		if got := Valid(h); got != want {
			t.Errorf("Valid(%q) = %v, want %v", h, got, want)
		}
	}
}
