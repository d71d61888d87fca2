package e2e

import (
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
)

// Two virtual servers on one TLS port, each with its own certificate
// files, through the real binary: SNI picks the certificate, the Host
// the server; an unknown name gets the default server's.
func TestEdgeTLSSNIPicksTheServersCertificate(t *testing.T) {
	tlsAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	dir := writeConfig(t, `
run_dir: run
shutdown_timeout: 5s
edge:
  listen: ["127.0.0.1:0"]
  tls_listen: [`+tlsAddr+`]
  servers:
    - names: [a.test]
      tls: {cert_file: a.crt, key_file: a.key}
      locations: [{path: /, root: a}]
    - names: [b.test]
      default: true
      tls: {cert_file: b.crt, key_file: b.key}
      locations: [{path: /, root: b}]
appserver:
  app: echo
`)
	ca := newEdgeTLSCA(t)
	for _, s := range []string{"a", "b"} {
		ca.issue(t, filepath.Join(dir, s+".crt"), filepath.Join(dir, s+".key"), s+".test")
		os.MkdirAll(filepath.Join(dir, s), 0o755)
		os.WriteFile(filepath.Join(dir, s, "f"), []byte(s), 0o644)
	}
	p := start(t, dir, "up")
	edgeTLSAddr(t, p)
	for sni, want := range map[string]string{"a.test": "a", "b.test": "b", "unknown.test": "b"} {
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.pool, ServerName: sni, InsecureSkipVerify: sni == "unknown.test"}, ForceAttemptHTTP2: true}
		req, _ := http.NewRequest("GET", "https://"+tlsAddr+"/f", nil)
		req.Host = sni
		resp, err := (&http.Client{Transport: tr}).Do(req)
		if err != nil {
			t.Fatalf("SNI %s: %v", sni, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		tr.CloseIdleConnections()
		if got := resp.TLS.PeerCertificates[0].DNSNames[0]; got != want+".test" {
			t.Errorf("SNI %s got the certificate of %s, want %s.test's", sni, got, want)
		}
		if string(body) != want || resp.ProtoMajor != 2 {
			t.Errorf("SNI and Host %s over HTTP/%d: %q, want server %s", sni, resp.ProtoMajor, body, want)
		}
	}
}
