// Package heldconfig gives a process's children the configuration it
// holds (config.Held: the bytes it read and validated), through an
// inherited descriptor named by STACK_CONFIG_FD, rather than have them
// read the file again: a file edited or broken on disk without a reload
// must not reach a respawned worker or a restarted tier child, as
// nginx's and uWSGI's workers fork from the configuration in memory. It
// also serves children that could not read the file (workers run as
// appserver.user, a root-only file) or not again (--config /dev/stdin).
//
// The descriptor is a memfd (memory, no path) which a child reads at its
// start and, a tier child of mode: subprocess, again on each reload (sent
// SIGHUP once its parent holds the reload's). Each configuration is
// written where it overlaps neither the one held nor the header, and only
// then does the header at offset 0 point to it, with a hash of the text
// and of itself: a child reading while its parent writes (a reload racing
// a child's start or its SIGHUP) finds a header or a text that does not
// match its hash, and reads again, never loading half of each.
//
// Bounded in place, not replaced. It once grew by one record per taken
// reload that changed the file (200 reloads of 345 B: 71 KB): appending
// was what kept a reader safe. A fresh memfd per reload, handed to the
// children started from then on, would leave the tier children of mode:
// subprocess, which run as long as the stack and re-read the descriptor
// they inherited on each SIGHUP, on the old one, and the moment when no
// child still reads an older one never comes while they run. So the one
// memfd is reused: a text goes before the held one if it fits there, else
// right after it: it goes after the held one, at offset a, only when it
// is longer than the room before a, so every offset stays under the
// header plus twice the largest text, and the memfd under three times.
package heldconfig

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/stack-web/stack/config"
	"github.com/stack-web/stack/internal/envnames"
)

// Env names the inherited descriptor in a child's environment.
const Env = envnames.ConfigFD

// The header: magic (format 2), a flag byte (1: a file was read), three
// zero bytes, the text's offset and length (8 bytes each, little-endian),
// the SHA-256 of the text, then the SHA-256 of the 56 bytes before it.
var magic = []byte("STK2")

const (
	hashedSize = 4 + 4 + 8 + 8 + sha256.Size
	headerSize = hashedSize + sha256.Size
)

// Holder is the configuration a process holds for its children. The zero
// value holds nothing until Hold; it makes its memfd on the first Hold.
type Holder struct {
	mu      sync.Mutex
	f       *os.File // the memfd, read-write: this process's end
	at, end int64    // where the held text is
	last    config.Held
}

// Hold makes h the configuration the children started from now on load
// (and the tier children reload). The same text as the last is not
// written again: reloads of an unchanged file leave the memfd as it is.
func (h *Holder) Hold(c config.Held) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.f != nil && c.File == h.last.File && bytes.Equal(c.Data, h.last.Data) {
		return nil
	}
	if h.f == nil {
		fd, err := unix.MemfdCreate("stack-config", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
		if err != nil {
			return fmt.Errorf("holding the configuration for the children: %w", os.NewSyscallError("memfd_create", err))
		}
		f := os.NewFile(uintptr(fd), "stack-config")
		// Only this process's user reopens it (Inherit does, read-only);
		// nobody shrinks it under a child reading it.
		if err := f.Chmod(0o400); err != nil {
			f.Close()
			return fmt.Errorf("holding the configuration for the children: %w", err)
		}
		if _, err := unix.FcntlInt(f.Fd(), unix.F_ADD_SEALS, unix.F_SEAL_SHRINK); err != nil {
			f.Close()
			return fmt.Errorf("holding the configuration for the children: %w", os.NewSyscallError("fcntl", err))
		}
		h.f, h.at, h.end = f, headerSize, headerSize
	}
	n := int64(len(c.Data))
	off := int64(headerSize) // before the held text, if it fits there
	if n > h.at-headerSize {
		off = h.end
	}
	if _, err := h.f.WriteAt(c.Data, off); err != nil {
		return fmt.Errorf("holding the configuration for the children: %w", err)
	}
	if _, err := h.f.WriteAt(header(c.File, off, c.Data), 0); err != nil {
		return fmt.Errorf("holding the configuration for the children: %w", err)
	}
	h.at, h.end = off, off+n
	h.last = config.Held{File: c.File, Data: bytes.Clone(c.Data)}
	return nil
}

// header is the header pointing to data, written at off.
func header(file bool, off int64, data []byte) []byte {
	hdr := make([]byte, hashedSize, headerSize)
	copy(hdr, magic)
	if file {
		hdr[4] = 1
	}
	binary.LittleEndian.PutUint64(hdr[8:], uint64(off))
	binary.LittleEndian.PutUint64(hdr[16:], uint64(len(data)))
	sum := sha256.Sum256(data)
	copy(hdr[24:], sum[:])
	sum = sha256.Sum256(hdr)
	return append(hdr, sum[:]...)
}

// Inherit gives one child the held configuration: a read-only descriptor
// of the memfd, to be its descriptor firstFD, and the environment entry
// naming it (supervisor.Process.Inherit's and prefork.Master.Inherit's
// signature). None before the first Hold. The caller closes the file
// once the child has started.
func (h *Holder) Inherit(firstFD int) ([]*os.File, []string, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.f == nil {
		return nil, nil, nil
	}
	// Opened anew, read-only: a child (a worker running the app as
	// appserver.user) cannot write what its siblings load.
	r, err := os.OpenFile("/proc/self/fd/"+strconv.Itoa(int(h.f.Fd())), os.O_RDONLY, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("the held configuration for a child: %w", err)
	}
	return []*os.File{r}, []string{Env + "=" + strconv.Itoa(firstFD)}, nil
}

// Close releases the memfd (the children keep their descriptors).
func (h *Holder) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.f != nil {
		h.f.Close()
		h.f = nil
	}
}

// Inherited is a child's descriptor of its parent's held configuration.
type Inherited struct {
	f *os.File
}

// FromEnv takes the descriptor Env names, if it is set (nil otherwise):
// it unsets Env and makes the descriptor close-on-exec, so that this
// process's own children (its workers, the release's commands, whatever
// the app runs) neither see a number that is not theirs nor inherit it.
func FromEnv() (*Inherited, error) {
	v, ok := os.LookupEnv(Env)
	if !ok {
		return nil, nil
	}
	os.Unsetenv(Env)
	fd, err := strconv.Atoi(v)
	if err != nil || fd < 3 {
		return nil, fmt.Errorf("%s=%q: not a descriptor this process inherited", Env, v)
	}
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFD, unix.FD_CLOEXEC); err != nil {
		return nil, fmt.Errorf("%s=%d: %w", Env, fd, os.NewSyscallError("fcntl", err))
	}
	return &Inherited{f: os.NewFile(uintptr(fd), "stack-config")}, nil
}

// Latest returns the configuration the parent holds now.
func (in *Inherited) Latest() (config.Held, error) {
	// A reader that keeps finding a text being written, for a second,
	// has a parent writing nothing whole.
	for range 200 {
		held, torn, err := in.read()
		if !torn {
			return held, err
		}
		time.Sleep(5 * time.Millisecond)
	}
	return config.Held{}, errors.New("the parent's configuration: changed each time it was read, for a second")
}

// read reads the held text once; torn says it was being written.
func (in *Inherited) read() (held config.Held, torn bool, err error) {
	var hdr [headerSize]byte
	n, err := in.f.ReadAt(hdr[:], 0)
	// The size after the header: the text it points to, written before
	// it, is within it (the memfd grows as the parent writes).
	fi, serr := in.f.Stat()
	if serr != nil {
		return config.Held{}, false, fmt.Errorf("the parent's configuration: %w", serr)
	}
	switch {
	case n >= 4 && bytes.Equal(hdr[:4], legacyMagic):
		held, err := in.legacyLatest(fi.Size())
		return held, false, err
	case n < headerSize || !bytes.Equal(hdr[:4], magic):
		if err != nil && !errors.Is(err, io.EOF) {
			return config.Held{}, false, fmt.Errorf("the parent's configuration: %w", err)
		}
		return config.Held{}, false, errors.New("the parent's configuration: its descriptor holds none")
	}
	if sum := sha256.Sum256(hdr[:hashedSize]); !bytes.Equal(sum[:], hdr[hashedSize:]) {
		return config.Held{}, true, nil // the header being written
	}
	off, l := binary.LittleEndian.Uint64(hdr[8:]), binary.LittleEndian.Uint64(hdr[16:])
	if off > uint64(fi.Size()) || l > uint64(fi.Size())-off {
		return config.Held{}, false, errors.New("the parent's configuration: its header points past its end")
	}
	data := make([]byte, l)
	if _, err := in.f.ReadAt(data, int64(off)); err != nil && !(errors.Is(err, io.EOF) && l == 0) {
		return config.Held{}, false, fmt.Errorf("the parent's configuration: %w", err)
	}
	if sum := sha256.Sum256(data); !bytes.Equal(sum[:], hdr[24:24+sha256.Size]) {
		return config.Held{}, true, nil // overwritten by the next as it was read
	}
	return config.Held{File: hdr[4] == 1, Data: data}, false, nil
}

// legacyMagic starts the format before 2, written by a parent of an older
// binary (a master whose chain reload starts this binary, upgraded on
// disk): records appended one after another, each magic, a flag byte, the
// text's length (8 bytes, little-endian) and the text; the last whole
// one is the parent's.
var legacyMagic = []byte("STKC")

const legacyHeaderSize = 4 + 1 + 8

func (in *Inherited) legacyLatest(size int64) (config.Held, error) {
	var hdr [legacyHeaderSize]byte
	found, at, n, file := false, int64(0), int64(0), false
	for off := int64(0); off+legacyHeaderSize <= size; {
		if _, err := in.f.ReadAt(hdr[:], off); err != nil {
			return config.Held{}, fmt.Errorf("the parent's configuration: %w", err)
		}
		if !bytes.Equal(hdr[:4], legacyMagic) {
			return config.Held{}, errors.New("the parent's configuration: not a record of it")
		}
		l := binary.LittleEndian.Uint64(hdr[5:])
		if l > uint64(size-off-legacyHeaderSize) {
			break // being appended: the one before is the parent's until it is whole
		}
		found, at, n, file = true, off+legacyHeaderSize, int64(l), hdr[4] == 1
		off = at + n
	}
	if !found {
		return config.Held{}, errors.New("the parent's configuration: its descriptor holds none")
	}
	data := make([]byte, n)
	if _, err := in.f.ReadAt(data, at); err != nil {
		return config.Held{}, fmt.Errorf("the parent's configuration: %w", err)
	}
	return config.Held{File: file, Data: data}, nil
}
