package cli

import (
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/stack-web/stack/edge"
	"github.com/stack-web/stack/internal/envnames"
)

// An edge child takes the secret only from the sealed memfd its parent
// made: a descriptor of its own, named by a stray or hostile environment
// (its held configuration, a 32-byte file), is refused with a clear error
// and left open, not read and closed from under its owner.
func TestAdoptTicketSecretOnlyFromTheParentsMemfd(t *testing.T) {
	cfg := edge.DefaultConfig()
	cfg.Locations = []edge.LocationConfig{{Path: "/", Root: t.TempDir()}}
	e, err := edge.New(cfg, t.TempDir(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()

	plain, err := os.Create(filepath.Join(t.TempDir(), "secret"))
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	plain.Write(make([]byte, 32))
	unsealed, err := unix.MemfdCreate("unsealed", unix.MFD_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(unsealed)
	unix.Write(unsealed, make([]byte, 32))
	for name, fd := range map[string]int{"a 32-byte file": int(plain.Fd()), "an unsealed memfd": unsealed} {
		t.Setenv(envnames.TLSTicketSecretFD, strconv.Itoa(fd))
		err := adoptTicketSecret(e)
		if err == nil || !strings.Contains(err.Error(), "is not the sealed 32-byte TLS session ticket secret") {
			t.Errorf("%s: %v, want a refusal", name, err)
		}
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err != nil {
			t.Errorf("%s: the refused descriptor was closed: %v", name, err)
		}
	}
	for _, v := range []string{"abc", "2", "-1", "99999"} {
		t.Setenv(envnames.TLSTicketSecretFD, v)
		if err := adoptTicketSecret(e); err == nil {
			t.Errorf("%q: taken", v)
		}
	}

	// The parent's: taken, then closed.
	s, err := newTicketSecret()
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	files, env, err := s.inherit(func(int) ([]*os.File, []string, error) { return nil, nil, nil })(3)
	if err != nil || len(files) != 1 || len(env) != 1 {
		t.Fatalf("inherit: %v %v %v", files, env, err)
	}
	fd, err := unix.Dup(int(files[0].Fd())) // the child's, as it inherits it
	if err != nil {
		t.Fatal(err)
	}
	files[0].Close()
	t.Setenv(envnames.TLSTicketSecretFD, strconv.Itoa(fd))
	if err := adoptTicketSecret(e); err != nil {
		t.Fatalf("the parent's sealed memfd: %v", err)
	}
	if _, ok := os.LookupEnv(envnames.TLSTicketSecretFD); ok {
		t.Error("the variable is still set")
	}
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err == nil {
		t.Error("the secret's descriptor is still open after it was read")
	}
}
