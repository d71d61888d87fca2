package tlsfront

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"log/slog"
	"math/big"
	"net"
	"testing"
	"time"
)

// The keys change once a period, the newest first, and a ticket sealed
// with the current key still opens with the next period's list: each
// process derives the same list from the same secret and clock.
func TestTicketKeysRotate(t *testing.T) {
	secret := bytes.Repeat([]byte{7}, TicketSecretSize)
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	a := TicketKeys(secret, now)
	if len(a) != TicketKeysKept {
		t.Fatalf("%d keys, want %d", len(a), TicketKeysKept)
	}
	if b := TicketKeys(secret, now.Add(time.Hour)); !equalKeys(a, b) {
		t.Error("the keys changed within a period")
	}
	next := TicketKeys(secret, now.Add(TicketKeyPeriod))
	if next[0] == a[0] {
		t.Error("the sealing key did not change with the period")
	}
	if !equalKeys(next[1:], a[:TicketKeysKept-1]) {
		t.Error("the next period does not keep the keys before it, newest first")
	}
	other := TicketKeys(bytes.Repeat([]byte{8}, TicketSecretSize), now)
	for i := range a {
		if other[i] == a[i] {
			t.Fatalf("key %d is the same for another secret", i)
		}
	}
	if err := New(slog.New(slog.DiscardHandler)).ShareTickets(secret[:16]); err == nil {
		t.Error("a 16-byte secret was taken")
	}
}

func equalKeys(a, b [][32]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// A session made on one side resumes on another given the same secret
// (two edge processes), and not on one with its own keys: real handshakes
// over TCP, TLS 1.2 and 1.3.
func TestSharedTicketsResumeOnAnotherSide(t *testing.T) {
	cert := selfSigned(t)
	secret := bytes.Repeat([]byte{1}, TicketSecretSize)
	side := func(secret []byte) string {
		s := New(slog.New(slog.DiscardHandler))
		s.config.GetCertificate = func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return cert, nil }
		if secret != nil {
			if err := s.ShareTickets(secret); err != nil {
				t.Fatal(err)
			}
		}
		t.Cleanup(s.Stop)
		return serveSide(t, s)
	}
	a, b, own := side(secret), side(secret), side(nil)
	for _, version := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		cache := tls.NewLRUClientSessionCache(4)
		if dial(t, a, cache, version) {
			t.Fatalf("version %x: the first connection resumed", version)
		}
		if !dial(t, b, cache, version) {
			t.Errorf("version %x: a session made on one side did not resume on another with the same secret", version)
		}
		if dial(t, own, cache, version) {
			t.Errorf("version %x: a session resumed on a side with keys of its own", version)
		}
	}
}

// serveSide answers one byte over TLS on each connection to a new port.
func serveSide(t *testing.T, s *Side) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			raw, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer raw.Close()
				c, err := s.Handshake(raw, 5*time.Second, nil)
				if err != nil {
					return
				}
				c.Write([]byte{'x'})
				c.SetReadDeadline(time.Now().Add(5 * time.Second))
				io.Copy(io.Discard, c)
			}()
		}
	}()
	return l.Addr().String()
}

// dial connects with cache, reads the one byte (which brings a TLS 1.3
// ticket with it) and reports whether the session was resumed.
func dial(t *testing.T, addr string, cache tls.ClientSessionCache, version uint16) bool {
	t.Helper()
	c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, ServerName: "stack.test", ClientSessionCache: cache,
		MinVersion: version, MaxVersion: version, NextProtos: []string{"http/1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var b [1]byte
	if _, err := io.ReadFull(c, b[:]); err != nil {
		t.Fatal(err)
	}
	return c.ConnectionState().DidResume
}

func selfSigned(t *testing.T) *tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "stack.test"}, DNSNames: []string{"stack.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}
