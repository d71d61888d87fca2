package appserver

import (
	"bufio"
	"errors"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/stack-web/stack/appserver/internal/listener"
	"github.com/stack-web/stack/appserver/internal/sockconn"
	"github.com/stack-web/stack/uwsgi"
)

// The connections themselves, the raw descriptor of a one-shot uwsgi
// connection and the adapter of any other net.Conn, are package
// internal/sockconn's.

// acceptor accepts connections from a listener.
type acceptor interface {
	accept() (sockconn.Conn, error)
}

// newAcceptor takes connections straight off the descriptor of a Listener
// made by Listen, and through Accept from any other listener. The accept
// loops of one listener share budget (see sockconn.NewFD), so that more
// loops do not mean more waits.
func newAcceptor(l net.Listener, timeout time.Duration, budget *sockconn.Budget) acceptor {
	if ul, ok := l.(*Listener); ok {
		return &rawAcceptor{l: ul, a: listener.NewAccepter(), timeout: timeout, budget: budget}
	}
	return netAcceptor{l: l, timeout: timeout}
}

type rawAcceptor struct {
	l       *Listener
	a       *listener.Accepter
	timeout time.Duration
	budget  *sockconn.Budget
}

func (a *rawAcceptor) accept() (sockconn.Conn, error) {
	fd, err := a.l.AcceptFD(a.a)
	if err != nil {
		return nil, err
	}
	return sockconn.NewFD(fd, a.timeout, a.budget), nil
}

type netAcceptor struct {
	l       net.Listener
	timeout time.Duration
}

func (a netAcceptor) accept() (sockconn.Conn, error) {
	c, err := a.l.Accept()
	if err != nil {
		return nil, err
	}
	return sockconn.NewNet(c, a.timeout), nil
}

// socketTimeout is SocketTimeout or its default.
func (s *Server) socketTimeout() time.Duration {
	if s.SocketTimeout <= 0 {
		return defaultSockTimeo
	}
	return s.SocketTimeout
}

// isTemporary reports accept errors worth retrying after a pause.
func isTemporary(err error) bool {
	var ne net.Error
	return errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) ||
		errors.Is(err, syscall.ENOBUFS) || errors.Is(err, syscall.ENOMEM) ||
		errors.As(err, &ne) && ne.Timeout()
}

// connBuffers are the per-connection buffers, pooled across connections.
type connBuffers struct {
	br      *bufio.Reader
	bw      *bufio.Writer
	vars    uwsgi.Vars
	pending []byte
}

const (
	writeBufferSize  = 4096
	pendingSize      = 4096 // body bytes held back to compute Content-Length
	maxDrain         = 1 << 20
	defaultSockTimeo = 4 * time.Second
)

var bufPool = sync.Pool{New: func() any {
	return &connBuffers{
		br:      bufio.NewReaderSize(nil, uwsgi.DefaultBufferSize+uwsgi.HeaderSize),
		bw:      bufio.NewWriterSize(nil, writeBufferSize),
		vars:    make(uwsgi.Vars, 0, 32),
		pending: make([]byte, 0, pendingSize),
	}
}}
