// Package heldconfig gives a process's children the configuration it
// holds (config.Held: the bytes it read and validated), through an
// inherited descriptor named by STACK_CONFIG_FD, rather than have them
// read the file again: a file edited or broken on disk without a reload
// must not reach a respawned worker or a restarted tier child, as
// nginx's and uWSGI's workers fork from the configuration in memory. It
// also serves children that could not read the file (workers run as
// appserver.user, a root-only file) or not again (--config /dev/stdin).
//
// The descriptor is a memfd (memory, no path) to which the holder appends
// each configuration it takes as one record; a child loads the last
// complete record, at its start and again on each reload (a tier child of
// mode: subprocess, sent SIGHUP once its parent has appended the
// reload's). Appending rather than rewriting in place: a child reading
// while its parent appends loads the record before, never half of each.
package heldconfig

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/stack-web/stack/config"
	"github.com/stack-web/stack/internal/envnames"
)

// Env names the inherited descriptor in a child's environment.
const Env = envnames.ConfigFD

// A record is magic, a flag byte (1: a file was read), the length of the
// data (8 bytes, little-endian), then the data.
var magic = []byte("STKC")

const headerSize = 4 + 1 + 8

// Holder is the configuration a process holds for its children. The zero
// value holds nothing until Hold; it makes its memfd on the first Hold.
type Holder struct {
	mu   sync.Mutex
	f    *os.File // the memfd, read-write: this process's end
	end  int64    // where the next record goes
	last config.Held
}

// Hold makes h the configuration the children started from now on load
// (and the tier children reload). The same text as the last is not
// appended again: reloads of an unchanged file leave the memfd as it is.
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
		h.f = f
	}
	rec := make([]byte, headerSize, headerSize+len(c.Data))
	copy(rec, magic)
	if c.File {
		rec[4] = 1
	}
	binary.LittleEndian.PutUint64(rec[5:], uint64(len(c.Data)))
	rec = append(rec, c.Data...)
	if _, err := h.f.WriteAt(rec, h.end); err != nil {
		return fmt.Errorf("holding the configuration for the children: %w", err)
	}
	h.end += int64(len(rec))
	h.last = config.Held{File: c.File, Data: bytes.Clone(c.Data)}
	return nil
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

// Latest returns the last complete record: what the parent holds now.
func (in *Inherited) Latest() (config.Held, error) {
	fi, err := in.f.Stat()
	if err != nil {
		return config.Held{}, fmt.Errorf("the parent's configuration: %w", err)
	}
	size := fi.Size()
	var hdr [headerSize]byte
	found, at, n, file := false, int64(0), int64(0), false
	for off := int64(0); off+headerSize <= size; {
		if _, err := in.f.ReadAt(hdr[:], off); err != nil {
			return config.Held{}, fmt.Errorf("the parent's configuration: %w", err)
		}
		if !bytes.Equal(hdr[:4], magic) {
			return config.Held{}, errors.New("the parent's configuration: not a record of it")
		}
		l := binary.LittleEndian.Uint64(hdr[5:])
		if l > uint64(size-off-headerSize) {
			break // being appended: the one before is the parent's until it is whole
		}
		found, at, n, file = true, off+headerSize, int64(l), hdr[4] == 1
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
