package allow

import (
	"net"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in      []string
		want    []string
		all     bool
		wantErr string
	}{
		{nil, nil, false, ""},
		{[]string{"10.77.0.1", "10.77.0.0/24", "::1", "::ffff:10.1.2.3"}, []string{"10.77.0.1/32", "10.77.0.0/24", "::1/128", "10.1.2.3/32"}, false, ""},
		{[]string{"10.77.0.9/24"}, []string{"10.77.0.0/24"}, false, ""},
		{[]string{"all"}, nil, true, ""},
		{[]string{"10.0.0.1", "edge.example"}, nil, false, `appserver.allow[1]: "edge.example" is not an IP address`},
		{[]string{"10.0.0.0/33"}, nil, false, `appserver.allow[0]: "10.0.0.0/33" is not a CIDR prefix`},
	}
	for _, tt := range tests {
		p, all, err := Parse(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Parse(%q) error %v, want %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.in, err)
			continue
		}
		var got []string
		for _, x := range p {
			got = append(got, x.String())
		}
		if strings.Join(got, " ") != strings.Join(tt.want, " ") || all != tt.all {
			t.Errorf("Parse(%q) = %q, %v; want %q, %v", tt.in, got, all, tt.want, tt.all)
		}
	}
}

// BenchmarkAllowed is the allow-list's cost per accepted connection (not
// per request: kept connections are checked once).
func BenchmarkAllowed(b *testing.B) {
	prefixes, _, _ := Parse([]string{"10.0.0.1", "10.0.1.0/24", "192.168.0.0/16"})
	addr := &net.TCPAddr{IP: net.ParseIP("192.168.3.4").To4(), Port: 40000}
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := Allowed(prefixes, addr); !ok {
			b.Fatal("refused")
		}
	}
}

// A v4-mapped CIDR prefix (::ffff:127.0.0.0/104) names IPv4 clients, and
// a dual-stack listener sees those unmapped: it must admit them, not be
// accepted by check and then refuse every one. A mapped prefix shorter
// than /96 also covers non-IPv4 addresses: refused with a clear message.
func TestParseV4MappedPrefix(t *testing.T) {
	p, _, err := Parse([]string{"::ffff:127.0.0.0/104", "::ffff:10.1.2.3/128"})
	if err != nil {
		t.Fatal(err)
	}
	for _, from := range []string{"127.0.0.1", "127.9.9.9", "10.1.2.3"} {
		addr := &net.TCPAddr{IP: net.ParseIP(from), Port: 1}
		if _, ok := Allowed(p, addr); !ok {
			t.Errorf("%s refused by %v", from, p)
		}
	}
	if _, ok := Allowed(p, &net.TCPAddr{IP: net.ParseIP("10.1.2.4"), Port: 1}); ok {
		t.Errorf("10.1.2.4 admitted by %v", p)
	}
	_, _, err = Parse([]string{"::ffff:0.0.0.0/80"})
	if err == nil || !strings.Contains(err.Error(), `appserver.allow[0]: "::ffff:0.0.0.0/80"`) {
		t.Errorf("Parse(::ffff:0.0.0.0/80) error %v, want one naming the entry", err)
	}
}
