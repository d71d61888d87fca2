package sessioncookie

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"strings"
	"sync"
	"testing"
)

// Every byte and some runes JSON escapes (or not) at the edge of the token
// characters: the hand-written JSON is json.Marshal's or refused.
func TestBrkSessionPlainJSONEdges(t *testing.T) {
	var cases []string
	for c := 0; c < 256; c++ {
		cases = append(cases, "ab"+string(rune(c))+"Z9", "ab"+string([]byte{byte(c)})+"Z9")
	}
	cases = append(cases, "\u2028", "\u2029", "<", ">", "&", "\ufeff", "a\x00", "")
	for _, s := range cases {
		for _, d := range []Data{{CSRF: s, Expires: 7}, {Key: s, Expires: -1}, {CSRF: "abc", Key: s, Expires: 1 << 40}} {
			want, err := json.Marshal(d)
			if err != nil {
				t.Fatal(err)
			}
			if got, ok := appendPlainSession(nil, d); ok && string(got) != string(want) {
				t.Errorf("%q: %q, json.Marshal %q", s, got, want)
			}
		}
	}
}

// A cookie signed under the old key verifies while it is a fallback, not
// after; one signed under the new key does not verify under the old; and
// signing under -race from many goroutines with the pooled HMACs gives each
// payload its own MAC.
func TestBrkSessionKeysAndPooledMACs(t *testing.T) {
	mk := func(keys ...string) *Store {
		st := &Store{Name: "sessionid", MaxAge: 60}
		for _, k := range keys {
			st.keys = append(st.keys, &signer{key: deriveSessionKey(k)})
		}
		return st
	}
	oldS, rotated, newS := mk("old"), mk("new", "old"), mk("new")
	d := Data{CSRF: "abc", Values: map[string]any{"u": "é<\u2028&"}, Expires: 1 << 40}
	v, err := oldS.Encode(d)
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := rotated.Decode(v, 1); !ok || got.Values["u"] != "é<\u2028&" {
		t.Fatalf("old cookie under rotated keys: %v %+v", ok, got)
	}
	if _, ok := newS.Decode(v, 1); ok {
		t.Fatal("old cookie accepted without the fallback")
	}
	v2, _ := rotated.Encode(d)
	if _, ok := oldS.Decode(v2, 1); ok {
		t.Fatal("new key's cookie accepted by the old key alone")
	}
	if _, ok := newS.Decode(v2, 1); !ok {
		t.Fatal("rotated store did not sign with the new key")
	}
	// Tampered: a byte of payload changed, the signature kept.
	i := strings.IndexByte(v2, '.')
	bad := []byte(v2)
	bad[i-1] ^= 1
	if _, ok := rotated.Decode(string(bad), 1); ok {
		t.Fatal("tampered cookie accepted")
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range 300 {
				st := []*Store{oldS, rotated, newS}[n%3]
				dd := Data{CSRF: "abc", Key: strings.Repeat("k", g+1), Expires: int64(1000 + n)}
				v, err := st.Encode(dd)
				if err != nil {
					t.Error(err)
					return
				}
				got, ok := rotated.Decode(v, 1)
				if !ok || got.Key != dd.Key || got.Expires != dd.Expires {
					t.Errorf("goroutine %d: %q decoded %v %+v", g, v, ok, got)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// A cookie value of any bytes is refused or decoded, never a panic; one
// signed with the right key and any JSON payload decodes as encoding/json
// would.
func FuzzBrkSessionDecode(f *testing.F) {
	st := &Store{Name: "sessionid", MaxAge: 60, keys: []*signer{{key: deriveSessionKey("k")}}}
	v, _ := st.Encode(Data{CSRF: "abc", Values: map[string]any{"a": 1}, Expires: 1 << 40})
	f.Add(v, []byte(`{"e":99999999999,"v":{"x":[1,{"y":null}]},"m":[{}]}`))
	f.Add("..", []byte(`{"e":1e400}`))
	f.Fuzz(func(t *testing.T, value string, payload []byte) {
		st.Decode(value, 1)
		p := base64.RawURLEncoding.EncodeToString(payload)
		signed := p + "." + base64.RawURLEncoding.EncodeToString(st.sign(st.keys[0], p))
		d, ok := st.Decode(signed, 1)
		var want Data
		dec := json.NewDecoder(bytes.NewReader(payload))
		dec.UseNumber()
		wantOK := dec.Decode(&want) == nil && want.Expires > 1
		if ok != wantOK || ok && d.CSRF != want.CSRF {
			t.Fatalf("%q: %v %+v, json %v %+v", payload, ok, d, wantOK, want)
		}
	})
}
