package csrf

import (
	"net/http/httptest"
	"strings"
	"testing"
)

func TestCSRFMaskRoundTrip(t *testing.T) {
	for range 100 {
		secret := NewSecret()
		if len(secret) != SecretLen || !ValidChars(secret) {
			t.Fatalf("bad secret %q", secret)
		}
		masked := Mask(secret)
		if Unmask(masked) != secret || strings.Contains(masked, secret) {
			t.Fatalf("mask(%q) = %q does not round-trip or leaks the secret", secret, masked)
		}
	}
}

func TestOrigins(t *testing.T) {
	o := NewOrigins([]string{"https://Trusted.example/", "https://*.corp.example"})
	for _, tc := range []struct {
		origin string
		secure bool
		ok     bool
	}{
		{"https://site.example", true, true}, // this host
		{"http://site.example", true, false}, // wrong scheme for an HTTPS request
		{"https://trusted.example", false, true},
		{"https://a.corp.example", false, true},
		{"https://corp.example.evil", false, false},
		{"null", false, false},
	} {
		if got := o.OriginOK(tc.origin, tc.secure, "site.example"); got != tc.ok {
			t.Errorf("OriginOK(%q, secure=%v) = %v", tc.origin, tc.secure, got)
		}
	}
	for ref, ok := range map[string]bool{
		"https://site.example/form": true, "https://x.corp.example/": true, "http://site.example/": false,
		"https://evil.example/": false, "": false, "not a url": false,
	} {
		r := httptest.NewRequest("POST", "https://site.example/", nil)
		if ref != "" {
			r.Header.Set("Referer", ref)
		}
		if reason := o.RefererReason(r); (reason == "") != ok {
			t.Errorf("RefererReason(%q) = %q", ref, reason)
		}
	}
}
