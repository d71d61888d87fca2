package tlscert

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// "tls: internal" is Caddy's tls internal and mkcert's job: the stack keeps
// a CA of its own under run_dir (tls/ca.crt, tls/ca.key 0600), created on
// first use and reused after, and issues each internal site a short-lived
// certificate for its names and the listen names. Trusting ca.crt once
// (curl --cacert, or the system's store) makes every such certificate
// trusted, across restarts and renewals.

const (
	caCertName = "ca.crt"
	caKeyName  = "ca.key"
	caLifetime = 10 * 365 * 24 * time.Hour
)

// authority is the internal CA.
type authority struct {
	certFile string
	cert     *x509.Certificate
	key      *ecdsa.PrivateKey
}

// CheckCA reads dir's CA as Load would, for `stack check`, so that a
// broken one refuses a start or a reload before anything changes. A CA
// not yet created (or being created by another process) is no error.
func CheckCA(dir string) error {
	if dir == "" {
		return nil
	}
	certFile, keyFile := filepath.Join(dir, caCertName), filepath.Join(dir, caKeyName)
	if _, err := os.Stat(certFile); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	_, err := loadCA(certFile, keyFile)
	return err
}

// loadOrCreateCA reads dir's CA, or creates it when dir has none.
func loadOrCreateCA(dir string, logger *slog.Logger) (*authority, error) {
	if dir == "" {
		return nil, errors.New("no directory for the CA (run_dir)")
	}
	certFile, keyFile := filepath.Join(dir, caCertName), filepath.Join(dir, caKeyName)
	ca, err := loadCA(certFile, keyFile)
	if err == nil || !errors.Is(err, os.ErrNotExist) {
		return ca, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating the CA's directory: %w", err)
	}
	ca, err = createCA(certFile, keyFile)
	if errors.Is(err, os.ErrExist) {
		// The key is there: another process is creating the CA (its
		// certificate follows at once), or one was stopped half way.
		for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			if ca, err = loadCA(certFile, keyFile); !errors.Is(err, os.ErrNotExist) {
				return ca, err
			}
		}
		return nil, fmt.Errorf("%s is missing but %s is there; remove %s to create a new CA", certFile, keyFile, keyFile)
	}
	if err != nil {
		return nil, err
	}
	logger.Info("tls: created a local CA for tls: internal", "ca", certFile)
	return ca, nil
}

func loadCA(certFile, keyFile string) (*authority, error) {
	return loadCAOnce(certFile, keyFile, false)
}

func loadCAOnce(certFile, keyFile string, retried bool) (*authority, error) {
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			_, cerr := os.Stat(certFile)
			_, kerr := os.Stat(keyFile)
			switch {
			case cerr == nil && errors.Is(kerr, os.ErrNotExist):
				// The certificate is written last (createCA), so its key
				// was removed: a new CA would silently replace the one
				// users trust.
				return nil, fmt.Errorf("CA %s is there but its key %s is missing; restore the key, or remove %s to create a new CA (and trust the new one)", certFile, keyFile, certFile)
			case cerr == nil && kerr == nil && !retried:
				// Another process finished creating the CA between the
				// reads of its two files: read them again.
				return loadCAOnce(certFile, keyFile, true)
			}
			return nil, err
		}
		return nil, fmt.Errorf("CA %s with %s: %w (remove both to create a new CA)", certFile, keyFile, err)
	}
	// Whoever reads the key can issue a certificate for any site that
	// every client trusting ca.crt accepts (ssh refuses such a key too).
	if fi, err := os.Stat(keyFile); err == nil && fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("CA key %s can be read by other users (mode %04o): whoever reads it can impersonate any site to the clients that trust %s; chmod 600 it, or remove both to create a new CA", keyFile, fi.Mode().Perm(), certFile)
	}
	cert := pair.Leaf
	if cert == nil {
		if cert, err = x509.ParseCertificate(pair.Certificate[0]); err != nil {
			return nil, fmt.Errorf("CA %s: %w", certFile, err)
		}
	}
	key, ok := pair.PrivateKey.(*ecdsa.PrivateKey)
	if !ok || !cert.IsCA {
		return nil, fmt.Errorf("CA %s is not an ECDSA certificate authority (remove it and %s to create a new CA)", certFile, keyFile)
	}
	if time.Now().After(cert.NotAfter) {
		return nil, fmt.Errorf("CA %s expired on %s; remove it and %s to create a new CA (and trust the new one)", certFile, cert.NotAfter.Format(time.DateOnly), keyFile)
	}
	return &authority{certFile: certFile, cert: cert, key: key}, nil
}

// createCA writes a new CA, the key first (0600, created exclusively: two
// processes starting together make one CA, not a key of one and a
// certificate of the other) and the certificate last, by rename, so that
// a present ca.crt always has its key beside it. It fails with an error
// matching os.ErrExist when the key file exists.
func createCA(certFile, keyFile string) (*authority, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating the CA key: %w", err)
	}
	now := time.Now()
	host, _ := os.Hostname()
	tmpl := &x509.Certificate{
		SerialNumber:          randomSerial(),
		Subject:               pkix.Name{Organization: []string{"stack local CA"}, CommonName: "stack local CA " + host},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(caLifetime),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("creating the CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	if err := writeFileExclusive(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return nil, err
	}
	if err := writeFileAtomic(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return nil, err
	}
	return &authority{certFile: certFile, cert: cert, key: key}, nil
}

func writeFileExclusive(path string, data []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path))
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	defer os.Remove(f.Name())
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(mode)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// issue makes a certificate for names, valid from now for lifetime (and
// never past the CA's own end).
func (a *authority) issue(names []string, now time.Time, lifetime time.Duration) (*tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating a certificate key: %w", err)
	}
	end := now.Add(lifetime)
	if end.After(a.cert.NotAfter) {
		end = a.cert.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber: randomSerial(),
		Subject:      pkix.Name{Organization: []string{"stack local certificate"}},
		NotBefore:    now.Add(-time.Hour), // clients whose clock is a little behind
		NotAfter:     end,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	if len(tmpl.DNSNames) > 0 {
		tmpl.Subject.CommonName = tmpl.DNSNames[0]
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, a.cert, &key.PublicKey, a.key)
	if err != nil {
		return nil, fmt.Errorf("issuing a certificate for %s: %w", strings.Join(names, ", "), err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}

// leafNames is what an internal certificate covers: the site's names,
// the listen hosts, and the loopback names; sorted, without duplicates
// and without the unspecified addresses.
func leafNames(site, hosts []string) []string {
	var out []string
	for _, n := range slices.Concat(site, hosts, []string{"localhost", "127.0.0.1", "::1"}) {
		n = strings.ToLower(strings.Trim(strings.TrimSuffix(n, "."), "[]"))
		if n == "" {
			continue
		}
		if ip := net.ParseIP(n); ip != nil {
			if ip.IsUnspecified() {
				continue
			}
			n = ip.String()
		}
		out = append(out, n)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func randomSerial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return n
}
