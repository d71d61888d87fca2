package heldconfig

import (
	"encoding/binary"
	"strconv"
	"testing"

	"github.com/stack-web/stack/config"
)

// A child loads the last whole record its parent appended: not one being
// appended (a reload racing a child's start or its SIGHUP), and its
// descriptor cannot write what its siblings load.
func TestAChildLoadsTheLastWholeRecord(t *testing.T) {
	var h Holder
	defer h.Close()
	if files, env, err := h.Inherit(3); err != nil || files != nil || env != nil {
		t.Fatalf("before any Hold: %v %v %v, want nothing to inherit", files, env, err)
	}
	first := config.Held{File: true, Data: []byte("appserver: {processes: 2}\n")}
	second := config.Held{File: true, Data: []byte("appserver: {processes: 2, log_requests: true}\n")}
	for _, c := range []config.Held{first, first, second} {
		if err := h.Hold(c); err != nil {
			t.Fatal(err)
		}
	}
	files, env, err := h.Inherit(7)
	if err != nil || len(files) != 1 || len(env) != 1 || env[0] != Env+"=7" {
		t.Fatalf("Inherit: %v %v %v", files, env, err)
	}
	if _, err := files[0].Write([]byte("x")); err == nil {
		t.Error("a child's descriptor writes the held configuration")
	}
	// As a child finds it: the number in its environment.
	t.Setenv(Env, strconv.Itoa(int(files[0].Fd())))
	in, err := FromEnv()
	if err != nil || in == nil {
		t.Fatalf("FromEnv: %v %v", in, err)
	}
	got, err := in.Latest()
	if err != nil || !got.File || string(got.Data) != string(second.Data) {
		t.Fatalf("Latest = %+v, %v; want the second", got, err)
	}
	// A record being appended: its header and half its text.
	rec := append([]byte("STKC\x01"), binary.LittleEndian.AppendUint64(nil, 100)...)
	if _, err := h.f.WriteAt(append(rec, "mode: sub"...), h.end); err != nil {
		t.Fatal(err)
	}
	if got, err := in.Latest(); err != nil || string(got.Data) != string(second.Data) {
		t.Errorf("with a record half appended: %q, %v; want the second", got.Data, err)
	}
	// The parent ran with no file: the child must not read one made since.
	h.end += int64(len(rec)) + 100 // past the torn one, as if it were whole
	if err := h.Hold(config.Held{}); err != nil {
		t.Fatal(err)
	}
	if got, err := in.Latest(); err != nil || got.File {
		t.Errorf("after holding no file: %+v, %v", got, err)
	}
}
