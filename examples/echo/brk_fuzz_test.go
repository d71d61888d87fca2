package echo

import (
	"encoding/json"
	"testing"
)

// appendRequest against encoding/json on any strings (go test -fuzz
// FuzzBrkAppendRequest): 40 s of fuzzing found no difference; the seed
// runs with the unit tests.
func FuzzBrkAppendRequest(f *testing.F) {
	f.Add("a", "b\xff\u2028", "c<>&", int64(5))
	f.Fuzz(func(t *testing.T, a, b, c string, n int64) {
		q := Request{Method: a, Path: b, RawPath: c, Query: a + b, Headers: map[string][]string{a: {b, c}, b: {}, c: nil, a + c: {a}}, Host: c, BodyLength: n, BodySHA256: b}
		want, err := json.MarshalIndent(q, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, '\n')
		if got := appendRequest(nil, &q); string(got) != string(want) {
			t.Fatalf("got\n%q\nwant\n%q", got, want)
		}
	})
}
