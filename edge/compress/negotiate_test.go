package compress

import (
	"strings"
	"testing"
)

func TestNegotiate(t *testing.T) {
	both := Of(Gzip, Zstd)
	for _, tc := range []struct {
		ae      string // header lines separated by |
		offered Set
		want    Coding
	}{
		{"", both, Identity},
		{"gzip", both, Gzip},
		{"gzip, zstd", both, Zstd}, // equal q: zstd first, as Caddy
		{"zstd, gzip", both, Zstd},
		{"gzip, deflate, br, zstd", both, Zstd}, // Chrome's
		{"gzip, deflate, br", both, Gzip},       // Safari's: br is not produced on the fly
		{"br", both, Identity},
		{"br", Of(Gzip, Brotli, Zstd), Brotli},
		{"br, gzip, zstd", Of(Gzip, Brotli, Zstd), Zstd},
		{"zstd;q=0.5, gzip", both, Gzip},
		{"gzip;q=1.0, zstd;q=0.999", both, Gzip},
		{"gzip;q=0", both, Identity},
		{"gzip;q=0, zstd;q=0.001", both, Zstd},
		{"gzip;q=0.000", both, Identity},
		{"*", both, Zstd},
		{"*;q=0.5", both, Zstd},
		{"*;q=0.5, zstd;q=0", both, Gzip},
		{"*;q=0", both, Identity},
		{"gzip;q=0, *", both, Zstd},
		{"*, gzip;q=0, zstd;q=0", both, Identity},
		{"identity;q=0", both, Identity}, // nothing acceptable: identity all the same
		{"identity;q=0, gzip;q=0.1", both, Gzip},
		{"gzip;q=0.5, identity", both, Identity}, // the client names identity and prefers it
		{"gzip;q=0.5, identity;q=0.5", both, Gzip},
		{"gzip;q=0.5", both, Gzip}, // an unnamed identity does not compete
		{"*;q=0.8, gzip;q=0.5", both, Zstd},
		{"*;q=0.8, gzip;q=0.5", Of(Gzip), Identity}, // identity gets *'s 0.8
		{"compress, deflate, sdch, exi", both, Identity},
		{"GZIP", both, Gzip},
		{"x-gzip", both, Gzip},
		{" gzip ; Q=0.8 , zstd ; q=0.7 ", both, Gzip},
		{"gzip;level=1;q=0.3, zstd;q=0.2", both, Gzip},
		{"gzip;q=abc", both, Identity}, // malformed: ignored
		{"gzip;q=1.5", both, Identity},
		{"gzip;q=0.12345", both, Identity},
		{"gzip;q=2", both, Identity},
		{"gzip;q=", both, Identity},
		{"gzip;q=0.5, gzip;q=0", both, Gzip}, // the first mention counts
		{",,, ,gzip,", both, Gzip},
		{"zstd, gzip", Of(Gzip), Gzip},
		{"zstd", Of(Gzip), Identity},
		{"gzip", 0, Identity},
		{"gzip|zstd", both, Zstd}, // two header lines
		{"gzip;q=0.2|zstd;q=0.1", both, Gzip},
	} {
		var ae []string
		if tc.ae != "" {
			ae = strings.Split(tc.ae, "|")
		}
		if got := Negotiate(ae, tc.offered); got != tc.want {
			t.Errorf("Negotiate(%q, %b) = %v, want %v", tc.ae, tc.offered, got, tc.want)
		}
	}
}

func TestNegotiateDoesNotAllocate(t *testing.T) {
	ae := []string{"gzip, deflate, br, zstd;q=0.9, *;q=0.1"}
	if n := testing.AllocsPerRun(100, func() { Negotiate(ae, Of(Gzip, Zstd)) }); n != 0 {
		t.Errorf("Negotiate allocates %v times", n)
	}
}

func TestConfigValidate(t *testing.T) {
	var got []string
	bad := func(key, format string, args ...any) { got = append(got, key) }
	c := DefaultConfig()
	c.Validate(bad)
	if len(got) != 0 {
		t.Fatalf("the defaults are invalid: %v", got)
	}
	c = Config{Gzip: true, MinLength: -1, Types: []string{"text/*", "*/*", "Text/HTML", "text/html; charset=utf-8", "/*", "json", "application/json"}}
	c.Validate(bad)
	want := "min_length types[1] types[3] types[4] types[5]"
	if strings.Join(got, " ") != want {
		t.Errorf("problems at %v, want %s", got, want)
	}
	got = nil
	Config{Zstd: true}.Validate(bad)
	if strings.Join(got, " ") != "types" {
		t.Errorf("no types with zstd on: problems at %v", got)
	}
}
