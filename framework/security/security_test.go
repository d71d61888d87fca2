package security

import "testing"

func TestURLHasAllowedHostAndScheme(t *testing.T) {
	hosts := []string{"example.com", "example.com:8443"}
	for _, tt := range []struct {
		url          string
		requireHTTPS bool
		ok           bool
	}{
		{"/polls/", false, true},
		{"polls/1/", false, true},
		{"?next=1", false, true},
		{"http://example.com/x", false, true},
		{"https://example.com/x", true, true},
		{"https://example.com:8443/x", true, true},
		{"http://example.com/x", true, false},
		{"//example.com/x", false, true},
		{"//evil.example/x", false, false},
		{"http://evil.example/", false, false},
		{"https://example.com.evil.example/", false, false},
		{"///evil.example", false, false},
		{`/\evil.example`, false, false},
		{`\\evil.example`, false, false},
		{"http:///example.com", false, false},
		{"javascript:alert(1)", false, false},
		{"ftp://example.com/", false, false},
		{"\x08//evil.example", false, false},
		{"", false, false},
		{"   ", false, false},
		{"http://user@evil.example", false, false},
	} {
		if got := URLHasAllowedHostAndScheme(tt.url, hosts, tt.requireHTTPS); got != tt.ok {
			t.Errorf("URLHasAllowedHostAndScheme(%q, https=%v) = %v, want %v", tt.url, tt.requireHTTPS, got, tt.ok)
		}
	}
}
