package stdserver

import (
	"bytes"
	"io"
	"net"
	"testing"

	"github.com/stack-web/stack/fastcgi"
)

// Repeated header variables (nginx 1.22 sends a repeated header line as
// two) reach net/http/fcgi joined; the other records pass unchanged, even
// when they arrive a byte at a time.
func TestParamsConnMergesRepeatedHeaders(t *testing.T) {
	var params []byte
	for _, kv := range [][2]string{{"REQUEST_METHOD", "GET"}, {"HTTP_X_MULTI", "one"}, {"HTTP_COOKIE", "a=1"}, {"HTTP_X_MULTI", "two"}, {"HTTP_COOKIE", "b=2"}} {
		params = fastcgi.AppendPair(params, kv[0], kv[1])
	}
	in := fastcgi.AppendBeginRequest(nil, 1, fastcgi.RoleResponder, 0)
	in = fastcgi.AppendRecord(in, fastcgi.TypeParams, 1, params[:10])
	in = fastcgi.AppendRecord(in, fastcgi.TypeParams, 1, params[10:])
	in = fastcgi.AppendRecord(in, fastcgi.TypeParams, 1, nil)
	in = fastcgi.AppendRecord(in, fastcgi.TypeStdin, 1, nil)

	a, b := net.Pipe()
	go func() {
		for i := range in {
			a.Write(in[i : i+1])
		}
		a.Close()
	}()
	out, err := io.ReadAll(newParamsConn(b))
	if err != nil {
		t.Fatal(err)
	}
	var want []byte
	for _, kv := range [][2]string{{"REQUEST_METHOD", "GET"}, {"HTTP_X_MULTI", "one, two"}, {"HTTP_COOKIE", "a=1; b=2"}} {
		want = fastcgi.AppendPair(want, kv[0], kv[1])
	}
	exp := fastcgi.AppendBeginRequest(nil, 1, fastcgi.RoleResponder, 0)
	exp = fastcgi.AppendRecord(exp, fastcgi.TypeParams, 1, want)
	exp = fastcgi.AppendRecord(exp, fastcgi.TypeParams, 1, nil)
	exp = fastcgi.AppendRecord(exp, fastcgi.TypeStdin, 1, nil)
	if !bytes.Equal(out, exp) {
		t.Errorf("got\n% x\nwant\n% x", out, exp)
	}
}
