package hostmatch

import "testing"

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
