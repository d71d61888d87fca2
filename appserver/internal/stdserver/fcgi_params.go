package stdserver

import (
	"encoding/binary"
	"fmt"
	"net"
	"strings"

	"github.com/stack-web/stack/fastcgi"
)

// maxFCGIParams bounds one request's PARAMS stream (net/http/fcgi keeps
// it all in memory).
const maxFCGIParams = 1 << 20

// paramsConn merges repeated header variables in the PARAMS stream before
// net/http/fcgi reads it. nginx (1.22, Debian 12's) sends a header line
// given twice as two HTTP_X_MULTI variables, and net/http/fcgi keeps them
// in a map, so the app would see only the last; joined with ", " ("; "
// for cookies), as later nginx versions and the edge send them, the app
// sees both, as over uwsgi. Every other record passes through as read.
type paramsConn struct {
	net.Conn
	in     []byte            // read, not yet a whole record
	out    []byte            // ready for the reader
	params map[uint16][]byte // PARAMS content so far, by request id
	err    error
	buf    []byte
	// onBegin, if set, is called for each BEGIN_REQUEST record read.
	onBegin func()
}

func newParamsConn(c net.Conn) *paramsConn {
	return &paramsConn{Conn: c, params: map[uint16][]byte{}, buf: make([]byte, 16<<10)}
}

func (c *paramsConn) Read(p []byte) (int, error) {
	for len(c.out) == 0 {
		if c.record() {
			continue
		}
		if c.err != nil {
			if len(c.in) > 0 {
				// A record cut short: pass on what there is and let
				// net/http/fcgi see the stream end inside it.
				c.out, c.in = c.in, nil
				continue
			}
			return 0, c.err
		}
		n, err := c.Conn.Read(c.buf)
		c.in = append(c.in, c.buf[:n]...)
		c.err = err
	}
	n := copy(p, c.out)
	c.out = c.out[n:]
	if len(c.out) == 0 {
		c.out = nil
	}
	return n, nil
}

// record handles one whole record at the front of c.in, if there is one.
func (c *paramsConn) record() bool {
	if len(c.in) < fastcgi.HeaderSize {
		return false
	}
	typ, id := c.in[1], binary.BigEndian.Uint16(c.in[2:])
	clen, pad := int(binary.BigEndian.Uint16(c.in[4:])), int(c.in[6])
	size := fastcgi.HeaderSize + clen + pad
	if len(c.in) < size {
		return false
	}
	rec := c.in[:size]
	c.in = c.in[size:]
	if len(c.in) == 0 {
		c.in = c.in[:0:0] // let the record's bytes go
	}
	if typ == fastcgi.TypeBeginRequest && c.onBegin != nil {
		c.onBegin()
	}
	if typ != fastcgi.TypeParams {
		c.out = append(c.out, rec...)
		return true
	}
	content := rec[fastcgi.HeaderSize : fastcgi.HeaderSize+clen]
	if clen > 0 {
		acc := append(c.params[id], content...)
		if len(acc) > maxFCGIParams {
			c.err = fmt.Errorf("appserver: fastcgi: PARAMS of request %d over %d bytes", id, maxFCGIParams)
			delete(c.params, id)
			return false
		}
		c.params[id] = acc
		return true
	}
	merged := mergeParams(c.params[id])
	delete(c.params, id)
	c.out = fastcgi.AppendRecord(c.out, fastcgi.TypeParams, id, merged)
	if len(merged) > 0 {
		c.out = fastcgi.AppendRecord(c.out, fastcgi.TypeParams, id, nil)
	}
	return true
}

// mergeParams joins the values of repeated HTTP_* names, in order, into
// the first; other pairs are kept as they are. Pairs it cannot parse are
// passed on untouched, for net/http/fcgi to refuse.
func mergeParams(b []byte) []byte {
	type pair struct{ k, v string }
	var pairs []pair
	index := map[string]int{}
	merged := false
	err := fastcgi.ParsePairs(b, func(k, v []byte) {
		key := string(k)
		if i, ok := index[key]; ok && strings.HasPrefix(key, "HTTP_") {
			sep := ", "
			if key == "HTTP_COOKIE" {
				sep = "; "
			}
			pairs[i].v += sep + string(v)
			merged = true
			return
		}
		index[key] = len(pairs)
		pairs = append(pairs, pair{key, string(v)})
	})
	if err != nil || !merged {
		return b
	}
	out := make([]byte, 0, len(b))
	for _, p := range pairs {
		out = fastcgi.AppendPair(out, p.k, p.v)
	}
	return out
}
