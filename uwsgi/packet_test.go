package uwsgi

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"strings"
	"testing"
)

// packet builds a raw packet from modifiers and alternating keys and values,
// independently of Encoder so that the two check each other.
func packet(mod1, mod2 byte, kv ...string) []byte {
	var block []byte
	for _, s := range kv {
		block = binary.LittleEndian.AppendUint16(block, uint16(len(s)))
		block = append(block, s...)
	}
	out := []byte{mod1, 0, 0, mod2}
	binary.LittleEndian.PutUint16(out[1:3], uint16(len(block)))
	return append(out, block...)
}

func reader(b []byte) *bufio.Reader { return bufio.NewReaderSize(bytes.NewReader(b), 4096) }

func TestEncodeReadRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		vars Vars
		body string
	}{
		{"empty", nil, ""},
		{"one", Vars{{"REQUEST_METHOD", "GET"}}, ""},
		{"empty value", Vars{{"QUERY_STRING", ""}, {"PATH_INFO", "/"}}, ""},
		{"binary and unicode", Vars{{"X", "\x00\xff\r\n"}, {"PATH_INFO", "/héllo/世界"}}, ""},
		{"with body", Vars{{"CONTENT_LENGTH", "5"}}, "hello"},
		{"long value", Vars{{"HTTP_COOKIE", strings.Repeat("a", 3000)}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var e Encoder
			e.Reset(nil, ModifierWSGI, 0)
			for _, v := range tt.vars {
				e.Add(v.Key, v.Value)
			}
			b, err := e.Bytes(DefaultBufferSize)
			if err != nil {
				t.Fatal(err)
			}
			raw := packet(0, 0, flatten(tt.vars)...)
			if !bytes.Equal(b, raw) {
				t.Fatalf("Encoder wrote\n%q\nwant\n%q", b, raw)
			}
			br := reader(append(b, tt.body...))
			p, err := ReadPacket(br, DefaultBufferSize, nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Vars) != len(tt.vars) {
				t.Fatalf("got %d vars, want %d", len(p.Vars), len(tt.vars))
			}
			for i := range tt.vars {
				if p.Vars[i] != tt.vars[i] {
					t.Errorf("var %d = %q, want %q", i, p.Vars[i], tt.vars[i])
				}
			}
			rest, _ := io.ReadAll(br)
			if string(rest) != tt.body {
				t.Errorf("body left in reader = %q, want %q", rest, tt.body)
			}
		})
	}
}

func flatten(vs Vars) []string {
	var out []string
	for _, v := range vs {
		out = append(out, v.Key, v.Value)
	}
	return out
}

func TestReadPacketLargeBlockBeyondReaderBuffer(t *testing.T) {
	vars := Vars{{"HTTP_X_BIG", strings.Repeat("b", 20000)}, {"PATH_INFO", "/"}}
	raw := packet(0, 0, flatten(vars)...)
	p, err := ReadPacket(bufio.NewReaderSize(bytes.NewReader(raw), 16), MaxBufferSize, nil)
	if err != nil {
		t.Fatal(err)
	}
	if p.Vars.Value("HTTP_X_BIG") != vars[0].Value || p.Vars.Value("PATH_INFO") != "/" {
		t.Fatalf("vars not decoded: %d vars", len(p.Vars))
	}
}

func TestReadPacketMalformed(t *testing.T) {
	ok := packet(0, 0, "REQUEST_METHOD", "GET")
	tests := []struct {
		name    string
		raw     []byte
		max     int
		wantErr error
		wantMsg string
	}{
		{"empty connection", nil, 0, io.EOF, "EOF"},
		{"short header", []byte{0, 1}, 0, ErrTruncated, "header: got 2 of 4 bytes"},
		{"truncated block", ok[:len(ok)-2], 0, ErrTruncated, "vars block"},
		{"block over buffer size", packet(0, 0, "K", strings.Repeat("v", 5000)), 4096, ErrBlockTooLarge, "invalid request block size: 5005 (max 4096)"},
		{"block over explicit small limit", ok, 10, ErrBlockTooLarge, "(max 10)"},
		{"http spoken to the socket", []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), 0, ErrModifier, `"GET "`},
		{"modifier1 RPC", packet(173, 0, "a", "b"), 0, ErrModifier, "173"},
		{"modifier1 ping", packet(100, 0), 0, ErrModifier, "100"},
		{"key length overruns", []byte{0, 1, 0, 0, 9}, 0, ErrMalformed, "key length at offset 0"},
		{"key overruns", append([]byte{0, 4, 0, 0}, 9, 0, 'a', 'b'), 0, ErrMalformed, "key of 9 bytes"},
		{"value length missing", append([]byte{0, 3, 0, 0}, 1, 0, 'a'), 0, ErrMalformed, "value of a length"},
		{"value length overruns", append([]byte{0, 5, 0, 0}, 1, 0, 'a', 9, 0), 0, ErrMalformed, "value of a of 9 bytes"},
		{"odd trailing byte", []byte{0, 7, 0, 0, 1, 0, 'a', 1, 0, 'b', 7}, 0, ErrMalformed, "key length at offset 6"},
		{"empty key", packet(0, 0, "", "x"), 0, ErrMalformed, "empty key"},
		{"duplicate meta-variable", packet(0, 0, "REQUEST_METHOD", "GET", "REQUEST_METHOD", "POST"), 0, ErrMalformed, `duplicate key "REQUEST_METHOD"`},
		{"duplicate CONTENT_LENGTH", packet(0, 0, "CONTENT_LENGTH", "1", "PATH_INFO", "/", "CONTENT_LENGTH", "100"), 0, ErrMalformed, `duplicate key "CONTENT_LENGTH"`},
		{"duplicate host", packet(0, 0, "HTTP_HOST", "a", "HTTP_HOST", "b"), 0, ErrMalformed, `duplicate key "HTTP_HOST"`},
		{"too many vars", packet(0, 0, manyVars(MaxVars+1)...), MaxBufferSize, ErrMalformed, "more than 1000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadPacket(reader(tt.raw), tt.max, nil)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("err = %q, want it to mention %q", err, tt.wantMsg)
			}
		})
	}
}

func manyVars(n int) []string {
	out := make([]string, 0, 2*n)
	for i := 0; i < n; i++ {
		out = append(out, "K"+strings.Repeat("x", i%7)+string(rune('a'+i%26))+string(rune('a'+i/26%26))+string(rune('a'+i/676)), "")
	}
	return out
}

func TestEncoderLimits(t *testing.T) {
	var e Encoder
	e.Reset(nil, 0, 0)
	e.Add("HTTP_COOKIE", strings.Repeat("c", 5000))
	if _, err := e.Bytes(DefaultBufferSize); !errors.Is(err, ErrBlockTooLarge) {
		t.Errorf("5000-byte block with a 4096 limit: err = %v, want ErrBlockTooLarge", err)
	}
	if _, err := e.Bytes(0); err != nil {
		t.Errorf("5000-byte block with no limit: %v", err)
	}

	e.Reset(nil, 0, 0)
	e.Add("K", strings.Repeat("v", MaxBufferSize+1))
	if _, err := e.Bytes(0); err == nil || !strings.Contains(err.Error(), "over the protocol's 65535") {
		t.Errorf("value over 65535 bytes: err = %v", err)
	}

	e.Reset(nil, 0, 0)
	e.AddHeader("X-"+strings.Repeat("n", MaxBufferSize), "v")
	if _, err := e.Bytes(0); err == nil {
		t.Error("header name over 65535 bytes: no error")
	}
}

func TestEncoderAddHeader(t *testing.T) {
	var e Encoder
	e.Reset(nil, 0, 0)
	e.AddHeader("X-Forwarded-For", "1.2.3.4")
	e.AddHeader("user-agent", "curl")
	b, err := e.Bytes(0)
	if err != nil {
		t.Fatal(err)
	}
	want := packet(0, 0, "HTTP_X_FORWARDED_FOR", "1.2.3.4", "HTTP_USER_AGENT", "curl")
	if !bytes.Equal(b, want) {
		t.Fatalf("got %q\nwant %q", b, want)
	}
}

func TestEncoderReuseDoesNotAllocate(t *testing.T) {
	var e Encoder
	buf := make([]byte, 0, 1024)
	allocs := testing.AllocsPerRun(100, func() {
		e.Reset(buf, 0, 0)
		e.Add("REQUEST_METHOD", "GET")
		e.AddHeader("User-Agent", "bench")
		b, _ := e.Bytes(0)
		buf = b
	})
	if allocs != 0 {
		t.Errorf("Encoder with a reused buffer: %v allocations per packet, want 0", allocs)
	}
}
