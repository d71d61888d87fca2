package cli

import (
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/stack-web/stack/edge"
	"github.com/stack-web/stack/internal/envnames"
)

// The edge's children share one TLS session ticket secret, as nginx's
// workers share the key their master made before it forked them: a client
// resumes its session on whichever edge process the kernel gives its next
// connection, and across a child's restart (edge/internal/tlsfront's
// tickets.go derives the keys). This process makes the secret once, when
// it starts its tier children, and each edge child inherits it in a
// sealed memfd (no path, no environment value, which /proc shows and
// children would inherit): the descriptor's number is in
// envnames.TLSTicketSecretFD, and the child reads it and closes it.

const (
	ticketSecretSize = edge.SessionTicketSecretSize
	// ticketSeals are the memfd's seals: nothing may change it, nor its seals.
	ticketSeals = unix.F_SEAL_SEAL | unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE
)

// ticketSecret is the secret handed to the edge children.
type ticketSecret struct {
	f *os.File // a sealed memfd holding the secret
}

// newTicketSecret makes a random secret in a sealed memfd.
func newTicketSecret() (*ticketSecret, error) {
	var b [ticketSecretSize]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, fmt.Errorf("tls session ticket secret: %w", err)
	}
	fd, err := unix.MemfdCreate("stack-tls-tickets", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return nil, fmt.Errorf("tls session ticket secret: %w", os.NewSyscallError("memfd_create", err))
	}
	f := os.NewFile(uintptr(fd), "stack-tls-tickets")
	if _, err := f.Write(b[:]); err != nil {
		f.Close()
		return nil, fmt.Errorf("tls session ticket secret: %w", err)
	}
	if _, err := unix.FcntlInt(f.Fd(), unix.F_ADD_SEALS, ticketSeals); err != nil {
		f.Close()
		return nil, fmt.Errorf("tls session ticket secret: sealing: %w", err)
	}
	return &ticketSecret{f: f}, nil
}

// inherit wraps a child's Inherit to add a descriptor of the secret: a
// copy of this process's, as the caller closes what Inherit gives once
// the child has started.
func (s *ticketSecret) inherit(next func(int) ([]*os.File, []string, error)) func(int) ([]*os.File, []string, error) {
	return func(firstFD int) ([]*os.File, []string, error) {
		files, env, err := next(firstFD)
		if err != nil {
			return nil, nil, err
		}
		fd, err := unix.FcntlInt(s.f.Fd(), unix.F_DUPFD_CLOEXEC, 0)
		if err != nil {
			closeFiles(files)
			return nil, nil, fmt.Errorf("tls session ticket secret: %w", os.NewSyscallError("fcntl", err))
		}
		dup := os.NewFile(uintptr(fd), "stack-tls-tickets")
		return append(files, dup), append(env, envnames.TLSTicketSecretFD+"="+strconv.Itoa(firstFD+len(files))), nil
	}
}

// close releases the secret's descriptor once no child starts any more.
func (s *ticketSecret) close() { s.f.Close() }

// adoptTicketSecret gives e the secret its parent handed down, if any:
// an edge child of `stack up`.
func adoptTicketSecret(e *edge.Edge) error {
	v, ok := os.LookupEnv(envnames.TLSTicketSecretFD)
	if !ok {
		return nil
	}
	os.Unsetenv(envnames.TLSTicketSecretFD)
	fd, err := strconv.Atoi(v)
	if err != nil || fd < 3 {
		return fmt.Errorf("%s: %q is not a descriptor", envnames.TLSTicketSecretFD, v)
	}
	// Only the parent's sealed memfd of the secret's size is taken: any
	// other descriptor (one this process opened itself, named by a stray
	// environment) is left alone, neither read nor closed.
	seals, serr := unix.FcntlInt(uintptr(fd), unix.F_GET_SEALS, 0)
	var st unix.Stat_t
	if serr != nil || seals != ticketSeals || unix.Fstat(fd, &st) != nil || st.Size != ticketSecretSize {
		return fmt.Errorf("%s: descriptor %d is not the sealed %d-byte TLS session ticket secret a parent stack hands its edge children", envnames.TLSTicketSecretFD, fd, ticketSecretSize)
	}
	f := os.NewFile(uintptr(fd), "stack-tls-tickets")
	defer f.Close()
	var b [ticketSecretSize]byte
	if _, err := io.ReadFull(io.NewSectionReader(f, 0, int64(len(b))), b[:]); err != nil {
		return fmt.Errorf("%s: reading the TLS session ticket secret: %w", envnames.TLSTicketSecretFD, err)
	}
	return e.ShareSessionTickets(b[:])
}
