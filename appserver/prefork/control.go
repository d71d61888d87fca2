package prefork

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"sync"
	"syscall"
	"time"
)

// The control channel between the master and a worker is a socketpair, one
// JSON object per line, read top to bottom:
//
//	worker → master  {"t":"ready"}                        serving: the master may retire a predecessor
//	worker → master  {"t":"stats","stats":{...}}          counters and the oldest requests in flight (method, URI, start), every statsEvery while anything moved
//	worker → master  {"t":"harakiri","method":…,"uri":…}  a request overran: the worker stopped accepting and exits after a grace
//	worker → master  {"t":"recycle","reason":…}           a limit was reached: start my replacement, then drain me
//	master → worker  {"t":"drain"}                        stop accepting, finish what was accepted, exit 0
//	master → worker  {"t":"stop"}                         the same, now, without waiting for requests
//	master → worker  the byte 'S' with a descriptor       a prespawned worker's listening socket, before anything else (start.go)
//
// Request start and end are not sent one message each: a write on every
// request would cost as much as the request itself. The worker counts them
// and reports the counters (and an idle→busy edge at once, which the
// cheaper mode reacts to). The worker's end of the pair is descriptor 4;
// the listening socket is descriptor 3.
const (
	workerListenFD  = 3
	workerControlFD = 4
	statsEvery      = 100 * time.Millisecond
	// heartbeatEvery: an idle worker still reports this often, so that
	// one that stopped answering (SIGSTOP, a stuck runtime) is told from
	// one with nothing to report: silent for unresponsiveAfter, it shows
	// as "unresponsive" and does not count for readiness.
	heartbeatEvery    = time.Second
	unresponsiveAfter = 3 * heartbeatEvery
)

// ctrlMsg is one control message.
type ctrlMsg struct {
	T      string          `json:"t"`
	Method string          `json:"method,omitempty"`
	URI    string          `json:"uri,omitempty"`
	Reason string          `json:"reason,omitempty"`
	Grace  time.Duration   `json:"grace,omitempty"` // drain: how long hijacked connections may stay
	Stats  *workerCounters `json:"stats,omitempty"`
}

// workerCounters is what a worker reports of itself.
type workerCounters struct {
	Requests   uint64 `json:"requests"`
	Exceptions uint64 `json:"exceptions"`
	Harakiri   uint64 `json:"harakiri"`
	Busy       int64  `json:"busy"`     // requests in flight now
	TotalRT    int64  `json:"total_rt"` // sum of handler durations, µs
	TX         uint64 `json:"tx"`       // response body bytes
	Accepting  bool   `json:"accepting"`
	// Oldest are the longest-running requests in flight (at most
	// maxReported): what the worker is doing, for the stats and for the
	// master's harakiri backstop.
	Oldest []inflight `json:"oldest,omitempty"`
}

// inflight is one request in flight in a worker.
type inflight struct {
	Method string `json:"method"`
	URI    string `json:"uri"`
	Start  int64  `json:"start"` // Unix µs
}

// maxReported bounds the requests in flight a stats message names.
const maxReported = 4

// ctrlConn is one end of the control channel. Send is safe for concurrent
// use; Recv is for one reader.
type ctrlConn struct {
	c   net.Conn
	mu  sync.Mutex
	enc *json.Encoder
	dec *json.Decoder
}

func newCtrlConn(c net.Conn) *ctrlConn {
	return &ctrlConn{c: c, enc: json.NewEncoder(c), dec: json.NewDecoder(bufio.NewReader(c))}
}

// Send writes m. A message that is its type alone ("ready", "drain",
// "stop") is written as encoding/json would, without it: the first Encode
// of a ctrlMsg builds its encoder by reflection (~0.3 ms of a worker's
// start), and a new worker's "ready" is on the way to a fresh stack's
// first page.
func (cc *ctrlConn) Send(m ctrlMsg) error {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	cc.c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if m == (ctrlMsg{T: m.T}) && plainWord(m.T) {
		_, err := io.WriteString(cc.c, `{"t":"`+m.T+"\"}\n")
		return err
	}
	return cc.enc.Encode(m)
}

// plainWord reports whether s is lower-case letters only: JSON as is.
func plainWord(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 'a' || s[i] > 'z' {
			return false
		}
	}
	return s != ""
}

// Recv returns the next message, or io.EOF when the other end is gone.
func (cc *ctrlConn) Recv() (ctrlMsg, error) {
	var m ctrlMsg
	err := cc.dec.Decode(&m)
	if err == io.ErrUnexpectedEOF {
		err = io.EOF
	}
	return m, err
}

func (cc *ctrlConn) Close() error { return cc.c.Close() }

// controlPair makes the socketpair for a new worker: the master's end as a
// ctrlConn and the worker's end as a file to pass it.
func controlPair() (*ctrlConn, *os.File, error) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("appserver: control socketpair: %w", os.NewSyscallError("socketpair", err))
	}
	mine := os.NewFile(uintptr(fds[0]), "control")
	c, err := net.FileConn(mine)
	mine.Close()
	if err != nil {
		syscall.Close(fds[1])
		return nil, nil, fmt.Errorf("appserver: control socketpair: %w", err)
	}
	return newCtrlConn(c), os.NewFile(uintptr(fds[1]), "control"), nil
}

// fileCtrlConn makes a ctrlConn of a socket file (the worker's end),
// closing f.
func fileCtrlConn(f *os.File) (*ctrlConn, error) {
	c, err := net.FileConn(f)
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("appserver: control channel: %w", err)
	}
	return newCtrlConn(c), nil
}

// jitter returns n plus a random extra of up to a tenth of n, so that
// workers started together do not all recycle together (uWSGI's
// max-requests-delta does the same by worker id).
func jitter(n int64, r *rand.Rand) int64 {
	if n <= 0 {
		return n
	}
	return n + r.Int64N(n/10+1)
}
