// Package pgtest starts a throwaway PostgreSQL server for tests: Debian's
// postgresql binaries, a fresh initdb cluster in a temporary directory, a
// private port, run as the postgres user (the server refuses root), and
// stopped and removed when the test ends.
package pgtest

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
)

// Options say where the server listens.
type Options struct {
	// Host is the address it listens on (default 127.0.0.1).
	Host string
	// Port is its port (default a free loopback port).
	Port int
	// Wrap prefixes the server's command, e.g. ip netns exec NS.
	Wrap []string
	// Allow is the client prefix let in with a password (default the
	// host's own /32). Local socket connections are trusted.
	Allow string
}

// Server is a running test server.
type Server struct {
	// URL is a postgres:// URL with the password, to the database postgres.
	URL string
	// Password is the superuser stack's password.
	Password string
	cmd      *exec.Cmd
	dir      string
}

// Bin returns the directory of the newest installed server's binaries.
func Bin() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	best, bestV := "", -1
	for _, d := range dirs {
		v, err := strconv.Atoi(filepath.Base(filepath.Dir(d)))
		if err == nil && v > bestV {
			if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
				best, bestV = d, v
			}
		}
	}
	if best == "" {
		return "", fmt.Errorf("pgtest: no /usr/lib/postgresql/*/bin/initdb: install Debian's postgresql (scripts/test.sh does)")
	}
	return best, nil
}

// Start runs a server until the test ends.
func Start(t testing.TB, o Options) *Server {
	t.Helper()
	bin, err := Bin()
	if err != nil {
		t.Fatal(err)
	}
	if o.Host == "" {
		o.Host = "127.0.0.1"
	}
	if o.Port == 0 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		o.Port = l.Addr().(*net.TCPAddr).Port
		l.Close()
	}
	if o.Allow == "" {
		o.Allow = o.Host + "/32"
	}
	pg, err := user.Lookup("postgres")
	if err != nil {
		t.Fatalf("pgtest: the postgres user (made by Debian's postgresql package): %v", err)
	}
	uid, _ := strconv.Atoi(pg.Uid)
	gid, _ := strconv.Atoi(pg.Gid)
	dir, err := os.MkdirTemp("", "pgtest-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chown(dir, uid, gid); err != nil {
		t.Fatal(err)
	}
	s := &Server{Password: "s3cret-" + strconv.FormatInt(time.Now().UnixNano()%1e6, 10), dir: dir}
	pwfile := filepath.Join(dir, "pw")
	if err := os.WriteFile(pwfile, []byte(s.Password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	os.Chown(pwfile, uid, gid)
	asPostgres := &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, Setpgid: true}
	data := filepath.Join(dir, "data")
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", data, "--username=stack", "--pwfile="+pwfile,
		"--auth-local=trust", "--auth-host=scram-sha-256", "--no-sync", "--encoding=UTF8", "--locale=C")
	initdb.SysProcAttr = asPostgres
	initdb.Dir = dir
	if out, err := initdb.CombinedOutput(); err != nil {
		t.Fatalf("pgtest: initdb: %v\n%s", err, out)
	}
	hba, err := os.OpenFile(filepath.Join(data, "pg_hba.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(hba, "host all all %s scram-sha-256\n", o.Allow)
	hba.Close()

	// setpriv execs the server as postgres in place (no extra process),
	// after Wrap (ip netns exec) has done its root-only work, and sets the
	// parent-death signal after changing user (a change of user clears
	// it): a test binary that dies leaves no server behind.
	args := append([]string{}, o.Wrap...)
	args = append(args, "setpriv", "--reuid="+pg.Uid, "--regid="+pg.Gid, "--clear-groups", "--pdeathsig=KILL",
		filepath.Join(bin, "postgres"), "-D", data, "-k", dir,
		"-c", "listen_addresses="+o.Host, "-c", "port="+strconv.Itoa(o.Port),
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
		"-c", "max_connections=100", "-c", "shared_buffers=16MB", "-c", "logging_collector=off")
	s.cmd = exec.Command(args[0], args[1:]...)
	s.cmd.Dir = dir
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	logf, err := os.Create(filepath.Join(dir, "server.log"))
	if err != nil {
		t.Fatal(err)
	}
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	if err := s.cmd.Start(); err != nil {
		logf.Close()
		t.Fatalf("pgtest: starting postgres: %v", err)
	}
	done := make(chan struct{})
	go func() { s.cmd.Wait(); logf.Close(); close(done) }()
	t.Cleanup(func() {
		// SIGQUIT: immediate shutdown, the server and its backends.
		syscall.Kill(-s.cmd.Process.Pid, syscall.SIGQUIT)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(dir, "server.log"))
			t.Logf("postgres log:\n%s", b)
		}
	})
	u := url.URL{Scheme: "postgres", User: url.UserPassword("stack", s.Password),
		Host: net.JoinHostPort(o.Host, strconv.Itoa(o.Port)), Path: "/postgres", RawQuery: "sslmode=disable"}
	s.URL = u.String()

	deadline := time.Now().Add(30 * time.Second)
	for {
		err := s.ping()
		if err == nil {
			return s
		}
		select {
		case <-done:
			b, _ := os.ReadFile(filepath.Join(dir, "server.log"))
			t.Fatalf("pgtest: postgres exited: %s", b)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("pgtest: postgres not ready after 30s: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// ping checks the server answers on the socket directory (which works from
// any network namespace).
func (s *Server) ping() error {
	db, err := s.Local()
	if err != nil {
		return err
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return db.PingContext(ctx)
}

// Local opens the server over its Unix socket, as the superuser.
func (s *Server) Local() (*sql.DB, error) {
	port := s.URL[strings.LastIndex(s.URL, ":")+1:]
	port = port[:strings.Index(port, "/")]
	return sql.Open("pgx", fmt.Sprintf("host=%s port=%s user=stack dbname=postgres sslmode=disable", s.dir, port))
}
