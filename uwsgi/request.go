package uwsgi

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// ErrBadRequest: the variables do not describe a valid HTTP request.
var ErrBadRequest = errors.New("uwsgi: bad request")

// ContentLength returns the body length that CONTENT_LENGTH announces. An
// absent or empty CONTENT_LENGTH is 0, as nginx sends "" for a request
// without a body. Anything but decimal digits is an error: the body's length
// is the only framing the protocol has.
func (p Packet) ContentLength() (int64, error) {
	s := p.Vars.Value("CONTENT_LENGTH")
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseUint(s, 10, 63)
	if err != nil || s[0] == '+' {
		return 0, fmt.Errorf("%w: CONTENT_LENGTH %q is not a length", ErrBadRequest, s)
	}
	return int64(n), nil
}

// NewRequest builds the *http.Request that an http.Handler expects from the
// CGI variables of p, as a Go HTTP server would have built it from the
// request line and headers. body must yield exactly p.ContentLength() bytes;
// the caller limits it (it is the rest of the connection).
//
// The URL's path comes from PATH_INFO, which nginx sends decoded and
// normalised, so a handler routes on the same path that the edge matched
// locations on; the escapes as the client sent them are kept in RawPath when
// REQUEST_URI agrees with PATH_INFO, and r.RequestURI is REQUEST_URI
// verbatim. Without PATH_INFO the URL is parsed from REQUEST_URI, as
// net/http/cgi does. When SCRIPT_NAME is set and PATH_INFO does not already
// start with it (CGI style), the path is SCRIPT_NAME+PATH_INFO, because Go
// handlers route on the full path.
//
// HTTPS=on|1, REQUEST_SCHEME=https or UWSGI_SCHEME=https mark the request as
// made over TLS (r.TLS non-nil), which is how Go handlers tell the scheme.
func NewRequest(ctx context.Context, p Packet, body io.ReadCloser) (*http.Request, error) {
	vs := p.Vars
	method := vs.Value("REQUEST_METHOD")
	if !validMethod(method) {
		return nil, fmt.Errorf("%w: REQUEST_METHOD %q", ErrBadRequest, method)
	}
	cl, err := p.ContentLength()
	if err != nil {
		return nil, err
	}
	if ctx == nil {
		return nil, errors.New("uwsgi: NewRequest: nil Context")
	}
	// Built in place (it stays on the stack) and given its context by
	// WithContext's one copy: NewRequestWithContext parsed an empty URL
	// and made a header map that was replaced at once.
	r := &http.Request{Method: method}
	proto := vs.Value("SERVER_PROTOCOL")
	if proto == "" {
		proto = "HTTP/1.0"
	}
	major, minor, ok := http.ParseHTTPVersion(proto)
	if !ok {
		return nil, fmt.Errorf("%w: SERVER_PROTOCOL %q", ErrBadRequest, proto)
	}
	r.Proto, r.ProtoMajor, r.ProtoMinor = proto, major, minor

	// One map of the right size and one backing array for all the
	// single-valued header slices: two allocations instead of one per
	// header. With a handful of fields, as behind the edge, the array and
	// the URL share one.
	nh := 2
	for i := range vs {
		if strings.HasPrefix(vs[i].Key, "HTTP_") {
			nh++
		}
	}
	var values []string
	if nh <= fewFields {
		parts := new(urlAndValues)
		r.URL, values = &parts.url, parts.values[:nh]
	} else {
		r.URL, values = new(url.URL), make([]string, nh)
	}
	if err := setURL(r, vs, p.Modifier1); err != nil {
		return nil, err
	}
	r.Header = make(http.Header, nh)
	hv := func(v string) []string {
		values[0] = v
		s := values[:1:1]
		values = values[1:]
		return s
	}

	var scheme, https, addr, port, serverName, serverPort string
	for _, v := range vs {
		k := v.Key
		if strings.HasPrefix(k, "HTTP_") {
			switch k {
			case "HTTP_HOST":
				r.Host = v.Value
			case "HTTP_CONTENT_LENGTH", "HTTP_CONTENT_TYPE":
				// The CGI variables CONTENT_LENGTH and CONTENT_TYPE are the
				// authority; some servers send both forms.
			default:
				if !validHeader(k[5:], v.Value) {
					return nil, fmt.Errorf("%w: variable %.64q is not a valid header field", ErrBadRequest, k)
				}
				name := headerName(k[5:])
				if prev, ok := r.Header[name]; ok {
					r.Header[name] = append(prev, v.Value) // a repeated header line
				} else {
					r.Header[name] = hv(v.Value)
				}
			}
			continue
		}
		switch k {
		case "CONTENT_TYPE":
			if v.Value != "" {
				r.Header["Content-Type"] = hv(v.Value)
			}
		case "REMOTE_ADDR":
			addr = v.Value
		case "REMOTE_PORT":
			port = v.Value
		case "SERVER_NAME":
			serverName = v.Value
		case "SERVER_PORT":
			serverPort = v.Value
		case "HTTPS":
			https = v.Value
		case "REQUEST_SCHEME", "UWSGI_SCHEME":
			if scheme == "" {
				scheme = v.Value
			}
		}
	}
	if r.Host == "" && serverName != "" {
		r.Host = serverName
		if serverPort != "" && serverPort != "80" && serverPort != "443" {
			r.Host = net.JoinHostPort(serverName, serverPort)
		}
	}
	if addr != "" {
		if port == "" {
			port = "0"
		}
		r.RemoteAddr = net.JoinHostPort(addr, port)
	}
	if strings.EqualFold(https, "on") || https == "1" || strings.EqualFold(scheme, "https") {
		r.TLS = &tls.ConnectionState{HandshakeComplete: true}
	}
	r.ContentLength = cl
	if cl > 0 && body != nil {
		r.Header["Content-Length"] = hv(vs.Value("CONTENT_LENGTH"))
		r.Body = body
	} else {
		r.Body = http.NoBody
		if body != nil {
			body.Close()
		}
	}
	return r.WithContext(ctx), nil
}

// fewFields is the most header fields whose values NewRequest allocates
// with the URL.
const fewFields = 8

type urlAndValues struct {
	url    url.URL
	values [fewFields]string
}

// setURL fills r.URL and r.RequestURI from PATH_INFO, QUERY_STRING,
// REQUEST_URI and SCRIPT_NAME.
func setURL(r *http.Request, vs Vars, modifier1 uint8) error {
	requestURI, _ := vs.Get("REQUEST_URI")
	pathInfo, hasPathInfo := vs.Get("PATH_INFO")
	query, hasQuery := vs.Get("QUERY_STRING")
	scriptName := vs.Value("SCRIPT_NAME")
	if strings.IndexByte(pathInfo, 0) >= 0 || strings.IndexByte(requestURI, 0) >= 0 {
		return fmt.Errorf("%w: NUL in the path", ErrBadRequest)
	}
	u := r.URL
	switch {
	case hasPathInfo:
		path := pathInfo
		if modifier1 == ModifierWSGIStripScriptName {
			// The peer asked for SCRIPT_NAME stripped from PATH_INFO, as
			// uWSGI does; Go handlers still see the full path below.
			path = strings.TrimPrefix(path, scriptName)
		}
		if scriptName != "" && !strings.HasPrefix(path, scriptName) {
			path = scriptName + path
		}
		if path == "" {
			path = "/"
		}
		u.Path = path
		rawPath, rawQuery, hasRawQuery := strings.Cut(requestURI, "?")
		if !hasQuery && hasRawQuery {
			query = rawQuery
		}
		if strings.IndexByte(rawPath, '%') >= 0 {
			if p, err := url.PathUnescape(rawPath); err == nil && p == path {
				u.RawPath = rawPath
			}
		}
		u.RawQuery = query
	case requestURI != "":
		parsed, err := url.ParseRequestURI(requestURI)
		if err != nil {
			return fmt.Errorf("%w: REQUEST_URI: %v", ErrBadRequest, err)
		}
		*u = *parsed
		if hasQuery {
			u.RawQuery = query
		}
	default:
		return fmt.Errorf("%w: neither PATH_INFO nor REQUEST_URI is set", ErrBadRequest)
	}
	if len(u.Path) == 0 || u.Path[0] != '/' {
		if u.Path != "*" || r.Method != http.MethodOptions {
			return fmt.Errorf("%w: path %q does not start with /", ErrBadRequest, u.Path)
		}
	}
	if requestURI == "" {
		requestURI = u.RequestURI()
	}
	r.RequestURI = requestURI
	return nil
}

// validHeader reports whether a CGI header name (after "HTTP_") is a token
// and its value has no CR, LF or NUL, so that nothing a peer sends can split
// into two header fields when a handler copies it into a response.
func validHeader(name, value string) bool {
	if !validMethod(name) {
		return false
	}
	for i := 0; i < len(value); i++ {
		if c := value[i]; c == '\r' || c == '\n' || c == 0 {
			return false
		}
	}
	return true
}

// validMethod reports whether m is a non-empty HTTP token.
func validMethod(m string) bool {
	if m == "" {
		return false
	}
	for i := 0; i < len(m); i++ {
		if !isTokenChar(m[i]) {
			return false
		}
	}
	return true
}

func isTokenChar(c byte) bool {
	return c < 0x80 && tokenChars[c]
}

// tokenChars are RFC 9110's tchar.
var tokenChars = func() (t [128]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-'a'+'A'] = true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

// headerName turns the part of a CGI variable after "HTTP_" back into a
// canonical header name: USER_AGENT → User-Agent. The common names come from
// a table so that they cost no allocation.
func headerName(cgi string) string {
	if h, ok := commonHeaders[cgi]; ok {
		return h
	}
	b := []byte(cgi)
	upper := true
	for i, c := range b {
		switch {
		case c == '_':
			b[i] = '-'
			upper = true
			continue
		case upper && 'a' <= c && c <= 'z':
			b[i] = c - ('a' - 'A')
		case !upper && 'A' <= c && c <= 'Z':
			b[i] = c + ('a' - 'A')
		}
		upper = false
	}
	return string(b)
}

var commonHeaders = func() map[string]string {
	names := []string{
		"Accept", "Accept-Charset", "Accept-Encoding", "Accept-Language", "Authorization",
		"Cache-Control", "Connection", "Cookie", "Dnt", "Forwarded", "If-Match",
		"If-Modified-Since", "If-None-Match", "If-Range", "If-Unmodified-Since", "Origin",
		"Pragma", "Range", "Referer", "Sec-Fetch-Dest", "Sec-Fetch-Mode", "Sec-Fetch-Site",
		"Sec-Fetch-User", "Te", "Upgrade-Insecure-Requests", "User-Agent", "Via",
		"X-Csrftoken", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Port",
		"X-Forwarded-Proto", "X-Real-Ip", "X-Request-Id", "X-Requested-With",
	}
	m := make(map[string]string, len(names))
	for _, n := range names {
		m[strings.ToUpper(strings.ReplaceAll(n, "-", "_"))] = n
	}
	return m
}()

// Env holds the CGI variables that describe the connection rather than the
// request: the client's address, the server's name and port, the scheme. The
// edge fills it from the accepted connection (and trusted proxies).
type Env struct {
	RemoteAddr   string // the client's IP address
	RemotePort   string
	ServerName   string // the virtual server's name (nginx's $server_name)
	ServerPort   string // the port the request arrived on
	Scheme       string // "http" or "https"
	DocumentRoot string
	ScriptName   string // the mount point, if the app does not own the whole path
	// PathInfo is the decoded, normalised path (nginx's $document_uri);
	// "" means r.URL.Path.
	PathInfo string
}

// EncodeRequest writes the variables that describe r into e, in the form
// and order of nginx's uwsgi_params, followed by every header as HTTP_*.
// Repeated header fields are joined with ", " (Cookie with "; "), as nginx
// joins them. Host is sent as HTTP_HOST from r.Host; Content-Type and
// Content-Length travel as CONTENT_TYPE and CONTENT_LENGTH only.
//
// The caller decides which headers to forward: strip hop-by-hop headers and
// names that contain '_' before calling, since HTTP_X_A is ambiguous between
// "X-A" and "X_A".
func EncodeRequest(e *Encoder, r *http.Request, env *Env) {
	e.Add("QUERY_STRING", r.URL.RawQuery)
	e.Add("REQUEST_METHOD", r.Method)
	e.Add("CONTENT_TYPE", headerValue(r.Header, "Content-Type"))
	if r.ContentLength > 0 {
		var b [20]byte
		e.Add("CONTENT_LENGTH", string(strconv.AppendInt(b[:0], r.ContentLength, 10)))
	} else {
		e.Add("CONTENT_LENGTH", "")
	}
	uri := r.RequestURI
	if uri == "" {
		uri = r.URL.RequestURI()
	}
	e.Add("REQUEST_URI", uri)
	pathInfo := env.PathInfo
	if pathInfo == "" {
		pathInfo = r.URL.Path
	}
	e.Add("PATH_INFO", pathInfo)
	e.Add("DOCUMENT_ROOT", env.DocumentRoot)
	if env.ScriptName != "" {
		e.Add("SCRIPT_NAME", env.ScriptName)
	}
	e.Add("SERVER_PROTOCOL", r.Proto)
	scheme := env.Scheme
	if scheme == "" {
		scheme = "http"
	}
	e.Add("REQUEST_SCHEME", scheme)
	if scheme == "https" {
		e.Add("HTTPS", "on")
		e.Add("UWSGI_SCHEME", "https") // uWSGI's own: its Python plugin's wsgi.url_scheme
	}
	e.Add("REMOTE_ADDR", env.RemoteAddr)
	e.Add("REMOTE_PORT", env.RemotePort)
	e.Add("SERVER_PORT", env.ServerPort)
	e.Add("SERVER_NAME", env.ServerName)
	e.Add("HTTP_HOST", r.Host)
	for name, values := range r.Header {
		switch name {
		case "Host", "Content-Type", "Content-Length":
			continue
		}
		switch len(values) {
		case 0:
		case 1:
			e.AddHeader(name, values[0])
		default:
			sep := ", "
			if name == "Cookie" {
				sep = "; "
			}
			e.AddHeader(name, strings.Join(values, sep))
		}
	}
}

func headerValue(h http.Header, key string) string {
	if v := h[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}
