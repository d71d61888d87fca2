package edge_test

import (
	"encoding/json"
	"net/http"
	"testing"
)

// The app must see the client's headers, no more: ReverseProxy's empty
// User-Agent placeholder reached the app over uwsgi as "User-Agent: ".
func TestNoUserAgentReachesTheAppAsNone(t *testing.T) {
	base := startEdge(t, proxyConfig("unix:"+startApp(t, http.HandlerFunc(echoHandler))))
	for _, c := range []struct {
		head string
		want []string
	}{
		{"", nil},
		{"User-Agent: probe/1\r\n", []string{"probe/1"}},
	} {
		code, body := rawRequest(t, base, "GET /ua HTTP/1.1\r\nHost: a\r\nConnection: close\r\n"+c.head+"\r\n")
		var s seen
		if err := json.Unmarshal([]byte(body), &s); code != 200 || err != nil {
			t.Fatalf("status %d, %v: %s", code, err, body)
		}
		got, ok := s.Header["User-Agent"]
		if (c.want == nil && ok) || (c.want != nil && (len(got) != 1 || got[0] != c.want[0])) {
			t.Errorf("sent %q: the app saw User-Agent %q (present %v)", c.head, got, ok)
		}
	}
}

// The query reaches the app as sent: ReverseProxy removed one it could not
// parse, so "?q=100%" or "?a;b" arrived empty.
func TestQueryReachesTheAppAsSent(t *testing.T) {
	base := startEdge(t, proxyConfig("unix:"+startApp(t, http.HandlerFunc(echoHandler))))
	for _, q := range []string{"a=%zz&b=1;c", "q=100%", "x;y", "a=1&b=2"} {
		code, body := rawRequest(t, base, "GET /q?"+q+" HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
		var s seen
		if err := json.Unmarshal([]byte(body), &s); code != 200 || err != nil {
			t.Fatalf("status %d, %v: %s", code, err, body)
		}
		if s.Query != q {
			t.Errorf("sent ?%s, the app saw ?%s", q, s.Query)
		}
	}
}
