package edge_test

import (
	"crypto/tls"
	"io"
	"net/http"
	"path/filepath"
	"testing"

	"github.com/stack-web/stack/edge"
	"github.com/stack-web/stack/edge/tlscert"
)

// Each virtual server's certificate is chosen by SNI; a server without its
// own uses edge.tls, which is also what an unknown or absent name gets. The
// Host then picks the server as over plain HTTP.
func TestTLSVirtualServersCertificatesBySNI(t *testing.T) {
	ca := newTestCA(t)
	dirA, dirB, dirD := t.TempDir(), t.TempDir(), t.TempDir()
	cfg := edge.DefaultConfig()
	cfg.Locations = []edge.LocationConfig{{Path: "/", Root: siteDir(t, "D")}}
	cfg.TLS = ca.issue(t, dirD, "default.test", "localhost")
	cfg.Servers = []edge.ServerConfig{
		{Names: []string{"a.test", "*.a.test"}, TLS: ca.issue(t, dirA, "a.test", "*.a.test"),
			Locations: []edge.LocationConfig{{Path: "/", Root: siteDir(t, "A")}}},
		{Names: []string{"b.test"}, TLS: ca.issue(t, dirB, "b.test"),
			Locations: []edge.LocationConfig{{Path: "/", Root: siteDir(t, "B")}}},
		{Names: []string{"c.test"}, // edge.tls's certificate
			Locations: []edge.LocationConfig{{Path: "/", Root: siteDir(t, "C")}}},
	}
	te := startTLSEdge(t, cfg)
	te.pool = ca.pool
	for sni, want := range map[string]string{
		"a.test": "a.test", "x.a.test": "a.test", "b.test": "b.test",
		"c.test": "default.test", "other.test": "default.test", "": "default.test",
	} {
		c, err := tls.Dial("tcp", te.secure, &tls.Config{ServerName: sni, InsecureSkipVerify: true})
		if err != nil {
			t.Fatalf("SNI %q: %v", sni, err)
		}
		if got := c.ConnectionState().PeerCertificates[0].DNSNames[0]; got != want {
			t.Errorf("SNI %q got the certificate of %s, want %s's", sni, got, want)
		}
		c.Close()
	}
	for host, want := range map[string]string{"a.test": "A", "b.test": "B", "c.test": "C", "localhost": "D"} {
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.pool, ServerName: host}, ForceAttemptHTTP2: true}
		if host == "c.test" {
			tr.TLSClientConfig.InsecureSkipVerify = true // edge.tls's certificate does not name it
		}
		req, _ := http.NewRequest("GET", "https://"+te.secure+"/f", nil)
		req.Host = host
		resp, err := (&http.Client{Transport: tr}).Do(req)
		if err != nil {
			t.Fatalf("%s: %v", host, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(body) != want || resp.ProtoMajor != 2 {
			t.Errorf("Host %s over HTTP/%d: %q, want %q", host, resp.ProtoMajor, body, want)
		}
		tr.CloseIdleConnections()
	}
}

// tls: internal on a server issues a certificate for its names from the
// one CA.
func TestTLSVirtualServerInternal(t *testing.T) {
	ca := newTestCA(t)
	cfg := edge.DefaultConfig()
	cfg.Locations = []edge.LocationConfig{{Path: "/", Root: siteDir(t, "D")}}
	cfg.TLS = ca.issue(t, t.TempDir(), "localhost")
	cfg.TLSDir = filepath.Join(t.TempDir(), "tls")
	cfg.Servers = []edge.ServerConfig{{Names: []string{"app.test"}, TLS: tlscert.Config{Internal: true},
		Locations: []edge.LocationConfig{{Path: "/", Root: siteDir(t, "A")}}}}
	te := startTLSEdge(t, cfg)
	c, err := tls.Dial("tcp", te.secure, &tls.Config{ServerName: "app.test", InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	leaf := c.ConnectionState().PeerCertificates[0]
	if err := leaf.VerifyHostname("app.test"); err != nil || leaf.Issuer.CommonName == "test CA" {
		t.Errorf("app.test got a certificate for %v from %q, want the internal CA's for app.test", leaf.DNSNames, leaf.Issuer.CommonName)
	}
}
