package heldconfig

import (
	"encoding/binary"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/stack-web/stack/config"
)

// A child loads what its parent holds now, and its descriptor cannot
// write what its siblings load.
func TestAChildLoadsWhatItsParentHolds(t *testing.T) {
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
	// A header being written (torn): the child reads again until it is
	// whole, and gets what it then points to.
	if _, err := h.f.WriteAt([]byte("STK2\x01garbage"), 0); err != nil {
		t.Fatal(err)
	}
	third := config.Held{File: true, Data: []byte("appserver: {processes: 3}\n")}
	go func() {
		time.Sleep(50 * time.Millisecond)
		h.Hold(third)
	}()
	if got, err := in.Latest(); err != nil || string(got.Data) != string(third.Data) {
		t.Errorf("with a torn header, then the third held: %q, %v", got.Data, err)
	}
	// The parent ran with no file: the child must not read one made since.
	if err := h.Hold(config.Held{}); err != nil {
		t.Fatal(err)
	}
	if got, err := in.Latest(); err != nil || got.File {
		t.Errorf("after holding no file: %+v, %v", got, err)
	}
}

// The memfd grew by one record per reload that changed the file (200
// reloads of 345 B: 71 KB). It stays under three times the largest text,
// and a child reading it as its parent holds one reload after another
// (a tier child's SIGHUP, a worker's start) loads one whole text each
// time, the latest once the parent is done.
func TestTheHeldConfigurationStaysBounded(t *testing.T) {
	var h Holder
	defer h.Close()
	text := func(i int) config.Held {
		// 345 B, as the brief's, and a few longer ones among them.
		body := fmt.Sprintf("# reload %d\n", i) + strings.Repeat("x", 330+(i%7)*40) + "\n"
		return config.Held{File: true, Data: []byte(body)}
	}
	if err := h.Hold(text(0)); err != nil {
		t.Fatal(err)
	}
	files, _, err := h.Inherit(3)
	if err != nil {
		t.Fatal(err)
	}
	in := &Inherited{f: files[0]}
	defer in.f.Close()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			got, err := in.Latest()
			if err != nil || !strings.HasPrefix(string(got.Data), "# reload ") || !strings.HasSuffix(string(got.Data), "x\n") {
				t.Errorf("read while the parent holds: %q, %v", got.Data, err)
				return
			}
		}
	})
	largest := 0
	for i := 1; i <= 200; i++ {
		c := text(i)
		largest = max(largest, len(c.Data))
		if err := h.Hold(c); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	fi, err := in.f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	if limit := int64(headerSize + 3*largest); fi.Size() > limit {
		t.Errorf("after 200 reloads the memfd holds %d bytes, over %d", fi.Size(), limit)
	}
	if got, err := in.Latest(); err != nil || string(got.Data) != string(text(200).Data) {
		t.Errorf("Latest after 200 reloads: %.20q, %v; want the 200th", got.Data, err)
	}
}

// A parent of an older binary (a master whose chain reload starts this
// one, upgraded on disk) appended records one after another: the child
// loads its last whole one.
func TestAChildReadsAnOlderParentsRecords(t *testing.T) {
	fd, err := unix.MemfdCreate("stack-config", unix.MFD_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	f := os.NewFile(uintptr(fd), "stack-config")
	defer f.Close()
	record := func(text string, n int) []byte {
		rec := append([]byte("STKC\x01"), binary.LittleEndian.AppendUint64(nil, uint64(n))...)
		return append(rec, text...)
	}
	f.Write(record("mode: inprocess\n", 16))
	f.Write(record("mode: subprocess\n", 17))
	f.Write(record("mode: sub", 100)) // being appended
	got, err := (&Inherited{f: f}).Latest()
	if err != nil || !got.File || string(got.Data) != "mode: subprocess\n" {
		t.Errorf("Latest of the older format: %+v, %v", got, err)
	}
}
