package cli

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/stack-web/stack/appserver"
	"github.com/stack-web/stack/config"
	"github.com/stack-web/stack/edge"
	"github.com/stack-web/stack/internal/envnames"
)

// In mode: subprocess `stack up` binds the tiers' listening sockets itself,
// keeps them for its lifetime and gives a duplicate to every start of the
// child that serves them (supervisor.Process.Inherit), as nginx's master
// holds the sockets its workers accept on. A child that dies and is started
// again finds the same sockets: connections made meanwhile wait in their
// queue and are served once it runs, where a child that bound them itself
// left the address closed for its restart, and every connection was
// refused (or, for the appserver's socket file, not found) until then.

// Socket kinds, as the inherited sockets' variable names them.
const (
	heldEdge    = "edge"
	heldEdgeTLS = "edge-tls"
	heldApp     = "appserver"
)

// heldSocket is one socket the parent holds.
type heldSocket struct {
	kind, addr string // addr as configured
	l          net.Listener
	// child is the edge child the socket is for: with edge.processes
	// above 1 each has a socket of its own on every address, all bound
	// with SO_REUSEPORT, and the kernel spreads the connections among them
	// by their hash. (On one shared socket, the process that woke first
	// took every connection queued: 16 opened at once all went to one.)
	child int
}

// heldSockets are the sockets of one `stack up` in mode: subprocess.
type heldSockets struct {
	mu    sync.Mutex
	socks []heldSocket
	edge  edgeAddrs // what the last configuration lists
	// edgeChildren is edge.processes: how many sockets each edge address has.
	edgeChildren int
	// stopped: the edge's sockets, the appserver's, are closed for the
	// stop; a child started meanwhile gets none.
	edgeStopped, appStopped bool
}

// edgeAddrs are the edge's configured addresses.
type edgeAddrs struct{ plain, tls []string }

func edgeAddrsOf(f *config.File) edgeAddrs {
	return edgeAddrs{slices.Clone(f.Edge.Listen), slices.Clone(f.Edge.TLSListen)}
}

// holdSockets binds f's edge addresses and appserver socket, so that an
// address in use is reported before any child starts.
func holdSockets(f *config.File) (*heldSockets, error) {
	h := &heldSockets{edge: edgeAddrsOf(f), edgeChildren: max(1, f.Edge.Processes)}
	if err := h.bindEdge(); err != nil {
		h.close()
		return nil, err
	}
	a := f.Appserver
	l, err := appserver.ListenBacklog(a.Listen, a.SocketMode, a.ListenBacklog)
	if err != nil {
		h.close()
		return nil, err
	}
	h.socks = append(h.socks, heldSocket{kind: heldApp, addr: a.Listen, l: l})
	return h, nil
}

// bindEdge opens the edge addresses wanted and not held, and closes the
// held ones no longer wanted; h.mu is held (or h is not shared yet).
func (h *heldSockets) bindEdge() error {
	h.closeUnwanted()
	for _, kind := range []string{heldEdge, heldEdgeTLS} {
		addrs := h.edge.plain
		if kind == heldEdgeTLS {
			addrs = h.edge.tls
		}
		for _, addr := range addrs {
			bind := addr // the first socket's address, for the others to join (a port 0 became one)
			for child := range h.edgeChildren {
				if i := slices.IndexFunc(h.socks, func(s heldSocket) bool { return s.kind == kind && s.addr == addr && s.child == child }); i >= 0 {
					bind = h.socks[i].l.Addr().String()
					continue
				}
				l, err := holdEdgeSocket(bind, h.edgeChildren, child == 0)
				if err != nil {
					return fmt.Errorf("edge: listen on %s: %w", addr, err)
				}
				bind = l.Addr().String()
				h.socks = append(h.socks, heldSocket{kind: kind, addr: addr, l: l, child: child})
			}
		}
	}
	return nil
}

func (h *heldSockets) wants(s heldSocket) bool {
	switch s.kind {
	case heldEdge:
		return slices.Contains(h.edge.plain, s.addr)
	case heldEdgeTLS:
		return slices.Contains(h.edge.tls, s.addr)
	}
	return false
}

// prepareEdge refuses a reload whose new edge addresses cannot be opened
// (in use), before either child is told of it: the edge child refused it
// alone, and from then on every start of it failed on that address, so a
// crash left the edge down.
func (h *heldSockets) prepareEdge(f *config.File) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.edge.canOpenAdded(edgeAddrsOf(f))
}

// reloadEdge takes a reload's edge addresses. A socket no longer listed is
// closed at once (the child closes its own copy as it reloads, and the
// address must then refuse, not queue for no one). One newly listed is
// opened by the child itself, as it reloads, and by this process only for
// the child's next start (inherit), once the child that has it is gone.
func (h *heldSockets) reloadEdge(f *config.File) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.edge = edgeAddrsOf(f)
	h.closeUnwanted()
}

// canOpenAdded opens, and closes, each address next lists that a is
// without (as the same kind): nothing of the stack's has it, so one in
// use is another program's.
func (a edgeAddrs) canOpenAdded(next edgeAddrs) error {
	for _, pair := range [][2][]string{{a.plain, next.plain}, {a.tls, next.tls}} {
		for _, addr := range pair[1] {
			if slices.Contains(pair[0], addr) {
				continue
			}
			l, err := appserver.HoldTCP("tcp", addr)
			if err != nil {
				return fmt.Errorf("listen on %s: %w", addr, err) // the reload names the tier
			}
			l.Close()
		}
	}
	return nil
}

// closeUnwanted closes the edge sockets h.edge no longer lists; h.mu is
// held (or h is not shared yet).
func (h *heldSockets) closeUnwanted() {
	kept := h.socks[:0]
	for _, s := range h.socks {
		if s.kind == heldApp || h.wants(s) {
			kept = append(kept, s)
		} else {
			s.l.Close()
		}
	}
	h.socks = kept
}

// holdEdgeSocket binds one of the edge's sockets on addr: with more than
// one edge process, one of a SO_REUSEPORT group. The group's first is
// preceded by a plain bind of the address, closed at once: SO_REUSEPORT
// alone joins whatever group another program of this user has there (a
// second stack on the same port took half its connections), where a plain
// bind finds the address in use. (A program of this user that binds with
// SO_REUSEPORT later still joins the group, as it could nginx's reuseport.)
func holdEdgeSocket(addr string, children int, first bool) (net.Listener, error) {
	if children <= 1 {
		return appserver.HoldTCP("tcp", addr) // the edge's network
	}
	if first {
		probe, err := appserver.HoldTCP("tcp", addr)
		if err != nil {
			return nil, err
		}
		addr = probe.Addr().String() // port 0: the port it got
		probe.Close()
	}
	return appserver.HoldTCPReusePort("tcp", addr)
}

// inherit is the tier child's supervisor.Process.Inherit: duplicates of
// its sockets from descriptor firstFD on, and the variable naming them;
// child numbers the edge's children from 0.
func (h *heldSockets) inherit(tier string, child int) func(firstFD int) ([]*os.File, []string, error) {
	return func(firstFD int) ([]*os.File, []string, error) {
		h.mu.Lock()
		defer h.mu.Unlock()
		if tier == "edge" && h.edgeStopped || tier != "edge" && h.appStopped {
			return nil, nil, nil // stopping: the child binds its own, if it starts at all
		}
		if tier == "edge" {
			// The child that had the addresses a reload added is gone.
			if err := h.bindEdge(); err != nil {
				return nil, nil, err
			}
		}
		var files []*os.File
		var entries []string
		for _, s := range h.socks {
			if (tier == "edge") == (s.kind == heldApp) || s.child != child {
				continue
			}
			f, err := appserver.ListenerFile(s.l)
			if err != nil {
				closeFiles(files)
				return nil, nil, fmt.Errorf("passing %s to the %s child: %w", s.addr, tier, err)
			}
			entries = append(entries, s.kind+":"+strconv.Itoa(firstFD+len(files))+":"+url.QueryEscape(s.addr))
			files = append(files, f)
		}
		return files, []string{envnames.InheritedListeners + "=" + strings.Join(entries, ",")}, nil
	}
}

// closeKind closes the held sockets of kind (heldApp, or the edge's), at
// the stop: once the child serving them stops accepting, an address must
// refuse, and the appserver's socket file go, as when the tier stops in
// this process.
func (h *heldSockets) closeKind(app bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if app {
		h.appStopped = true
	} else {
		h.edgeStopped = true
	}
	kept := h.socks[:0]
	for _, s := range h.socks {
		if (s.kind == heldApp) == app {
			s.l.Close()
		} else {
			kept = append(kept, s)
		}
	}
	h.socks = kept
}

// close closes every held socket; no child is started after it.
func (h *heldSockets) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.edgeStopped, h.appStopped = true, true
	for _, s := range h.socks {
		s.l.Close()
	}
	h.socks = nil
}

func closeFiles(files []*os.File) {
	for _, f := range files {
		f.Close()
	}
}

// inheritedSocket is a socket a tier child got from its parent.
type inheritedSocket struct {
	kind, addr string
	fd         int
}

// inheritedSockets reads (and unsets: not for this process's own children)
// the sockets this process inherited as a tier child of mode: subprocess.
func inheritedSockets() ([]inheritedSocket, error) {
	v, ok := os.LookupEnv(envnames.InheritedListeners)
	if !ok {
		return nil, nil
	}
	os.Unsetenv(envnames.InheritedListeners)
	var out []inheritedSocket
	for e := range strings.SplitSeq(v, ",") {
		if e == "" {
			continue
		}
		kind, rest, _ := strings.Cut(e, ":")
		n, esc, _ := strings.Cut(rest, ":")
		fd, err := strconv.Atoi(n)
		addr, uerr := url.QueryUnescape(esc)
		if err != nil || uerr != nil || fd < 3 {
			return nil, fmt.Errorf("%s: malformed entry %q", envnames.InheritedListeners, e)
		}
		out = append(out, inheritedSocket{kind, addr, fd})
	}
	return out, nil
}

// take returns the descriptor of the socket of kind for addr, and -1 if
// none was inherited; it is the caller's from then on.
func takeInherited(socks []inheritedSocket, kind, addr string) int {
	for i, s := range socks {
		if s.kind == kind && s.addr == addr && s.fd >= 0 {
			socks[i].fd = -1
			return s.fd
		}
	}
	return -1
}

// closeUntaken closes the inherited sockets nobody took: addresses the
// configuration this child read no longer lists (the file changed since the
// parent's last reload).
func closeUntaken(socks []inheritedSocket) {
	for i, s := range socks {
		if s.fd >= 0 {
			os.NewFile(uintptr(s.fd), s.addr).Close()
			socks[i].fd = -1
		}
	}
}

// adoptEdge gives e the inherited sockets of f's edge addresses.
func adoptEdge(e *edge.Edge, f *config.File, socks []inheritedSocket) error {
	for _, kind := range []string{heldEdge, heldEdgeTLS} {
		addrs := f.Edge.Listen
		if kind == heldEdgeTLS {
			addrs = f.Edge.TLSListen
		}
		for _, addr := range addrs {
			fd := takeInherited(socks, kind, addr)
			if fd < 0 {
				continue // a reload's new address: the edge opens it
			}
			file := os.NewFile(uintptr(fd), addr)
			l, err := net.FileListener(file)
			file.Close()
			if err != nil {
				return fmt.Errorf("edge: inherited listener for %s: %w", addr, err)
			}
			e.Adopt(addr, kind == heldEdgeTLS, l)
		}
	}
	return nil
}

// appListener is the appserver's socket: the inherited one, or else
// opened here.
func appListener(f *config.File, socks []inheritedSocket) (net.Listener, error) {
	cfg := f.Appserver
	if fd := takeInherited(socks, heldApp, cfg.Listen); fd >= 0 {
		return appserver.AdoptListener(fd)
	}
	return appserver.ListenBacklog(cfg.Listen, cfg.SocketMode, cfg.ListenBacklog)
}
