package echo

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"testing"
)

// appendRequest writes what json.MarshalIndent(req, "", "  ") wrote
// before, byte for byte, on the strings that need escaping.
func TestAppendRequest(t *testing.T) {
	odd := []string{"", "plain", `quo"te\back`, "<script>&amp;</script>", "tab\tnl\nc\rr\bb\ff\x00\x01\x1f\x7f",
		"caf\u00e9 \u4e16\u754c \U0001f600", "bad\xffutf8\xc3", "sep\u2028ara\u2029tor", "\xed\xa0\x80"}
	reqs := []Request{
		{Method: "GET", Path: "/echo/x", RawPath: "/echo/x", Query: "a=1", Headers: map[string][]string{}, Host: "h", Scheme: "http", RemoteAddr: "127.0.0.1:1", BodySHA256: "e3b0"},
		{Headers: nil, BodyLength: -1},
		{Headers: map[string][]string{"B": {"2", "3"}, "A": {"1"}, "Empty": {}, "Nil": nil, "X-Request-Id": {"abc"}}, BodyLength: 1 << 40},
	}
	for i, s := range odd {
		h := map[string][]string{s: {s, s}, "K" + s: {s}}
		reqs = append(reqs, Request{Method: s, Path: s, RawPath: s, Query: s, Headers: h, Host: s, Scheme: s, RemoteAddr: s, BodyLength: int64(i), BodySHA256: s})
	}
	for _, q := range reqs {
		want, err := json.MarshalIndent(q, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, '\n')
		if got := appendRequest(nil, &q); string(got) != string(want) {
			t.Errorf("appendRequest(%+v):\n%s\nwant (MarshalIndent):\n%s", q, got, want)
		}
	}
}

func TestEmptySHA256(t *testing.T) {
	if s := sha256.Sum256(nil); hex.EncodeToString(s[:]) != emptySHA256 {
		t.Errorf("emptySHA256 = %s, want %x", emptySHA256, s)
	}
}
