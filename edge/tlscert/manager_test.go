package tlscert

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// writePair issues a certificate for names from a test CA and writes it
// as cert and key files in dir, returning the Config naming them.
func writePair(t *testing.T, ca *authority, dir, base string, names ...string) Config {
	t.Helper()
	cert, err := ca.issue(names, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	c := Config{CertFile: filepath.Join(dir, base+".crt"), KeyFile: filepath.Join(dir, base+".key")}
	os.WriteFile(c.CertFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]}), 0o644)
	os.WriteFile(c.KeyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600)
	return c
}

func testCA(t *testing.T) *authority {
	t.Helper()
	ca, err := loadOrCreateCA(filepath.Join(t.TempDir(), "ca"), quiet())
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

func TestSNIChoosesTheSiteByName(t *testing.T) {
	ca, dir := testCA(t), t.TempDir()
	sites := []Site{
		{Key: "edge.servers[0].tls", Names: []string{"a.example"}, TLS: writePair(t, ca, dir, "a", "a.example")},
		{Key: "edge.servers[1].tls", Names: []string{"b.example", "*.b.example"}, Default: true, TLS: writePair(t, ca, dir, "b", "b.example", "*.b.example")},
	}
	m := NewManager(quiet())
	if err := m.Reload(sites, Options{}); err != nil {
		t.Fatal(err)
	}
	for sni, want := range map[string]string{
		"a.example": "a.example", "A.Example.": "a.example",
		"b.example": "b.example", "x.b.example": "b.example", "y.x.b.example": "b.example",
		"": "b.example", "unknown.example": "b.example", // the default site
	} {
		cert, err := m.GetCertificate(&tls.ClientHelloInfo{ServerName: sni})
		if err != nil {
			t.Fatal(err)
		}
		if got := cert.Leaf.DNSNames[0]; got != want {
			t.Errorf("SNI %q got the certificate of %s, want %s", sni, got, want)
		}
	}

	// Through a real handshake, as a client verifying against the CA.
	l, err := tls.Listen("tcp", "127.0.0.1:0", m.TLSConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.(*tls.Conn).Handshake()
			c.Close()
		}
	}()
	pool := x509.NewCertPool()
	pool.AddCert(ca.cert)
	for _, name := range []string{"a.example", "b.example"} {
		c, err := tls.Dial("tcp", l.Addr().String(), &tls.Config{ServerName: name, RootCAs: pool})
		if err != nil {
			t.Fatalf("handshake for %s: %v", name, err)
		}
		if got := c.ConnectionState().PeerCertificates[0].DNSNames[0]; got != name {
			t.Errorf("handshake for %s served %s", name, got)
		}
		c.Close()
	}
}

func TestFirstSiteIsTheDefaultWithoutOne(t *testing.T) {
	ca, dir := testCA(t), t.TempDir()
	m := NewManager(quiet())
	err := m.Reload([]Site{
		{Key: "s0", Names: []string{"one.example"}, TLS: writePair(t, ca, dir, "one", "one.example")},
		{Key: "s1", Names: []string{"two.example"}, TLS: writePair(t, ca, dir, "two", "two.example")},
	}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := m.GetCertificate(&tls.ClientHelloInfo{})
	if cert.Leaf.DNSNames[0] != "one.example" {
		t.Errorf("no SNI got %v, want the first site's", cert.Leaf.DNSNames)
	}
}

func TestLoadErrorsNameTheKeyAndFile(t *testing.T) {
	ca, dir := testCA(t), t.TempDir()
	a := writePair(t, ca, dir, "a", "a.example")
	b := writePair(t, ca, dir, "b", "b.example")
	m := NewManager(quiet())
	for name, tc := range map[string]struct {
		cfg  Config
		want []string
	}{
		"missing":  {Config{CertFile: filepath.Join(dir, "nope.crt"), KeyFile: a.KeyFile}, []string{"edge.tls", "nope.crt", "no such file"}},
		"mismatch": {Config{CertFile: a.CertFile, KeyFile: b.KeyFile}, []string{"edge.tls", a.CertFile, b.KeyFile, "does not match"}},
		"garbage":  {Config{CertFile: a.KeyFile, KeyFile: a.KeyFile}, []string{"edge.tls", "certificate"}},
	} {
		_, err := m.Load([]Site{{Key: "edge.tls", TLS: tc.cfg}}, Options{})
		if err == nil {
			t.Errorf("%s: loaded", name)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not say %q", name, err, w)
			}
		}
		if cerr := tc.cfg.Check("edge.tls"); cerr == nil || cerr.Error() != err.Error() {
			t.Errorf("%s: Check says %v, Load says %v", name, cerr, err)
		}
	}
}

func TestReloadRefusesABrokenCertificateAndKeepsTheOld(t *testing.T) {
	ca, dir := testCA(t), t.TempDir()
	cfg := writePair(t, ca, dir, "site", "site.example")
	m := NewManager(quiet())
	sites := []Site{{Key: "edge.tls", Names: []string{"site.example"}, TLS: cfg}}
	if err := m.Reload(sites, Options{}); err != nil {
		t.Fatal(err)
	}
	before, _ := m.GetCertificate(&tls.ClientHelloInfo{ServerName: "site.example"})

	os.WriteFile(cfg.CertFile, []byte("-----BEGIN CERTIFICATE-----\nbroken\n"), 0o644)
	if err := m.Reload(sites, Options{}); err == nil {
		t.Fatal("a broken certificate was accepted")
	}
	now, _ := m.GetCertificate(&tls.ClientHelloInfo{ServerName: "site.example"})
	if now != before {
		t.Error("after a refused reload the served certificate changed")
	}

	writePair(t, ca, dir, "site", "site.example")
	if err := m.Reload(sites, Options{}); err != nil {
		t.Fatal(err)
	}
	after, _ := m.GetCertificate(&tls.ClientHelloInfo{ServerName: "site.example"})
	if after.Leaf.SerialNumber.Cmp(before.Leaf.SerialNumber) == 0 {
		t.Error("the replaced certificate is not served after Reload")
	}
}

func TestNoSiteWithTLSIsAnError(t *testing.T) {
	if _, err := NewManager(quiet()).Load([]Site{{Key: "edge.tls"}}, Options{}); err == nil {
		t.Fatal("no certificate at all was accepted")
	}
	if _, err := NewManager(quiet()).GetCertificate(&tls.ClientHelloInfo{}); err == nil {
		t.Fatal("a handshake with no certificates succeeded")
	}
}

func TestInternalCAIsCreatedOnceAndIssuesForTheListenNames(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run", "tls")
	opts := Options{CADir: dir, Hosts: []string{"127.0.0.1", "0.0.0.0", "[::1]", "dev.local"}}
	sites := []Site{{Key: "edge.tls", Names: []string{"app.example"}, Default: true, TLS: Config{Internal: true}}}
	m := NewManager(quiet())
	if err := m.Reload(sites, opts); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(filepath.Join(dir, "ca.key"))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("ca.key mode %v, want 0600", st.Mode().Perm())
	}
	caPEM, err := os.ReadFile(filepath.Join(dir, "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	cert, _ := m.GetCertificate(&tls.ClientHelloInfo{ServerName: "localhost"})
	leaf := cert.Leaf
	for _, name := range []string{"localhost", "app.example", "dev.local", "127.0.0.1", "::1"} {
		if _, err := leaf.Verify(x509.VerifyOptions{DNSName: name, Roots: pool}); err != nil {
			t.Errorf("the internal certificate does not verify for %s: %v", name, err)
		}
	}
	if slices := leaf.IPAddresses; len(slices) != 2 {
		t.Errorf("IP SANs %v, want 127.0.0.1 and ::1 only (not 0.0.0.0)", slices)
	}
	if life := leaf.NotAfter.Sub(leaf.NotBefore); life > 8*24*time.Hour {
		t.Errorf("internal certificate lives %v, want about 7 days", life)
	}

	// A second manager (a restart) reuses the CA: same file, same key.
	m2 := NewManager(quiet())
	if err := m2.Reload(sites, opts); err != nil {
		t.Fatal(err)
	}
	again, err := os.ReadFile(filepath.Join(dir, "ca.crt"))
	if err != nil || string(again) != string(caPEM) {
		t.Fatal("the CA was created again instead of reused")
	}
	c2, _ := m2.GetCertificate(&tls.ClientHelloInfo{})
	if _, err := c2.Leaf.Verify(x509.VerifyOptions{DNSName: "localhost", Roots: pool}); err != nil {
		t.Errorf("after a restart the certificate is not from the same CA: %v", err)
	}
	// A reload keeps the certificate it issued while it is fresh.
	if err := m2.Reload(sites, opts); err != nil {
		t.Fatal(err)
	}
	if c3, _ := m2.GetCertificate(&tls.ClientHelloInfo{}); c3 != c2 {
		t.Error("a reload reissued a fresh internal certificate")
	}
}

func TestInternalCertificateIsReissuedNearItsEnd(t *testing.T) {
	ca := testCA(t)
	l := &leafIssuer{ca: ca, names: []string{"localhost"}, lifetime: 9 * time.Hour}
	now := time.Now()
	first, err := l.current(now)
	if err != nil {
		t.Fatal(err)
	}
	if c, _ := l.current(now.Add(5 * time.Hour)); c != first {
		t.Error("reissued before two thirds of its life")
	}
	c, _ := l.current(now.Add(7 * time.Hour))
	if c == first || !c.Leaf.NotAfter.After(first.Leaf.NotAfter) {
		t.Error("not reissued after two thirds of its life")
	}
}

func TestBrokenCAIsReportedNotReplaced(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "ca.crt"), []byte("junk"), 0o644)
	os.WriteFile(filepath.Join(dir, "ca.key"), []byte("junk"), 0o600)
	_, err := NewManager(quiet()).Load([]Site{{Key: "edge.tls", TLS: Config{Internal: true}}}, Options{CADir: dir})
	if err == nil || !strings.Contains(err.Error(), "edge.tls: internal") || !strings.Contains(err.Error(), "ca.crt") {
		t.Fatalf("a broken CA: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "ca.crt")); string(b) != "junk" {
		t.Error("a broken CA was overwritten")
	}
}

func TestExpiredCertificateIsServedWithAWarning(t *testing.T) {
	ca, dir := testCA(t), t.TempDir()
	cert, err := ca.issue([]string{"old.example"}, time.Now().Add(-48*time.Hour), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	cfg := Config{CertFile: filepath.Join(dir, "old.crt"), KeyFile: filepath.Join(dir, "old.key")}
	os.WriteFile(cfg.CertFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]}), 0o644)
	os.WriteFile(cfg.KeyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600)
	var log strings.Builder
	m := NewManager(slog.New(slog.NewTextHandler(&log, nil)))
	if err := m.Reload([]Site{{Key: "edge.tls", Names: []string{"old.example", "other.example"}, TLS: cfg}}, Options{}); err != nil {
		t.Fatalf("an expired certificate refused: %v", err)
	}
	for _, want := range []string{"certificate has expired", "cert_file=" + cfg.CertFile, "does not cover a name of its site", "name=other.example"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, log.String())
		}
	}
}

// edge.tls comes first as the default; a default server with its own
// certificate, later in the list, takes its place (nginx's default_server).
func TestALaterDefaultSiteWins(t *testing.T) {
	ca, dir := testCA(t), t.TempDir()
	m := NewManager(quiet())
	err := m.Reload([]Site{
		{Key: "edge.tls", Default: true, TLS: writePair(t, ca, dir, "edge", "edge.example")},
		{Key: "edge.servers[0].tls", Names: []string{"srv.example"}, Default: true, TLS: writePair(t, ca, dir, "srv", "srv.example")},
	}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if cert, _ := m.GetCertificate(&tls.ClientHelloInfo{ServerName: "unknown.example"}); cert.Leaf.DNSNames[0] != "srv.example" {
		t.Errorf("an unknown name got %v, want the default server's certificate", cert.Leaf.DNSNames)
	}
}

// Edges starting together in one run_dir make one CA between them.
func TestInternalCAMadeOnceByConcurrentStarts(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tls")
	type made struct {
		ca  *authority
		err error
	}
	out := make(chan made, 8)
	for range 8 {
		go func() {
			ca, err := loadOrCreateCA(dir, quiet())
			out <- made{ca, err}
		}()
	}
	var first *authority
	for range 8 {
		m := <-out
		ca, err := m.ca, m.err
		if err != nil {
			t.Fatal(err)
		}
		if first == nil {
			first = ca
		} else if !ca.cert.Equal(first.cert) {
			t.Fatal("two CAs were made")
		}
	}
	if _, err := loadCA(filepath.Join(dir, "ca.crt"), filepath.Join(dir, "ca.key")); err != nil {
		t.Fatalf("the CA on disk: %v", err)
	}
}
