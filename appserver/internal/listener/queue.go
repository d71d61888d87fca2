package listener

import (
	"encoding/binary"
	"net"
	"syscall"
	"unsafe"
)

// ListenQueue returns how many connections wait in l's accept queue and
// the queue's limit, as the kernel reports them (0, 0 if it cannot tell):
// package prefork's stats server reports them as uWSGI's listen_queue.
//
// /proc/net/unix does not show a Unix listener's queue, so for those it
// asks sock_diag (netlink, UDIAG_SHOW_RQLEN: for a listening socket the
// "receive queue" is the accept queue and the "write queue" its limit). For
// TCP, TCP_INFO's unacked and sacked fields hold the same two numbers.
func ListenQueue(l net.Listener) (queue, limit int) {
	if ul, ok := l.(*Listener); ok {
		ul.ctl.Control(func(fd uintptr) { queue, limit = unixQueue(int(fd)) })
		return queue, limit
	}
	sc, ok := l.(syscall.Conn)
	if !ok {
		return 0, 0
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return 0, 0
	}
	rc.Control(func(fd uintptr) { queue, limit = tcpQueue(int(fd)) })
	return queue, limit
}

func tcpQueue(fd int) (int, int) {
	var info [104]byte
	n := uint32(len(info))
	_, _, errno := syscall.Syscall6(syscall.SYS_GETSOCKOPT, uintptr(fd), syscall.IPPROTO_TCP, syscall.TCP_INFO,
		uintptr(unsafe.Pointer(&info[0])), uintptr(unsafe.Pointer(&n)), 0)
	if errno != 0 || n < 32 {
		return 0, 0
	}
	return int(binary.NativeEndian.Uint32(info[24:])), int(binary.NativeEndian.Uint32(info[28:]))
}

// unixQueue asks sock_diag about the Unix socket fd, found by its inode.
func unixQueue(fd int) (int, int) {
	var st syscall.Stat_t
	if syscall.Fstat(fd, &st) != nil {
		return 0, 0
	}
	const (
		sockDiagByFamily = 20
		udiagShowRQLen   = 0x10
		unixDiagRQLen    = 4
		tcpListen        = 10
	)
	nl, err := syscall.Socket(syscall.AF_NETLINK, syscall.SOCK_DGRAM|syscall.SOCK_CLOEXEC, 4 /* NETLINK_SOCK_DIAG */)
	if err != nil {
		return 0, 0
	}
	defer syscall.Close(nl)
	// nlmsghdr (16) + unix_diag_req (24).
	req := make([]byte, 40)
	ne := binary.NativeEndian
	ne.PutUint32(req[0:], 40)
	ne.PutUint16(req[4:], sockDiagByFamily)
	ne.PutUint16(req[6:], syscall.NLM_F_REQUEST)
	req[16] = syscall.AF_UNIX
	ne.PutUint32(req[20:], 1<<tcpListen)
	ne.PutUint32(req[24:], uint32(st.Ino))
	ne.PutUint32(req[28:], udiagShowRQLen)
	ne.PutUint32(req[32:], ^uint32(0)) // no cookie
	ne.PutUint32(req[36:], ^uint32(0))
	if err := syscall.Sendto(nl, req, 0, &syscall.SockaddrNetlink{Family: syscall.AF_NETLINK}); err != nil {
		return 0, 0
	}
	buf := make([]byte, 4096)
	n, _, err := syscall.Recvfrom(nl, buf, 0)
	if err != nil || n < 16+16 {
		return 0, 0
	}
	msgs, err := syscall.ParseNetlinkMessage(buf[:n])
	if err != nil || len(msgs) == 0 || msgs[0].Header.Type != sockDiagByFamily {
		return 0, 0
	}
	// unix_diag_msg is 16 bytes; then attributes.
	attrs := msgs[0].Data
	if len(attrs) < 16 {
		return 0, 0
	}
	for b := attrs[16:]; len(b) >= 4; {
		alen := int(ne.Uint16(b[0:]))
		if alen < 4 || alen > len(b) {
			break
		}
		if ne.Uint16(b[2:]) == unixDiagRQLen && alen >= 12 {
			return int(ne.Uint32(b[4:])), int(ne.Uint32(b[8:]))
		}
		b = b[min((alen+3)&^3, len(b)):]
	}
	return 0, 0
}

// siocinq is Linux's SIOCINQ (FIONREAD): the bytes waiting to be read.
const siocinq = 0x541B

// Unread reports whether bytes wait to be read on the connected socket
// fd; true if it cannot tell. A graceful stop closes a connection that has
// sent nothing, and must not take one whose request has arrived for one.
func Unread(fd uintptr) bool {
	var n int32
	_, _, e := syscall.Syscall(syscall.SYS_IOCTL, fd, siocinq, uintptr(unsafe.Pointer(&n)))
	return e != 0 || n > 0
}

// ConnUnread is Unread for a connection with a descriptor (true if it has
// none).
func ConnUnread(c net.Conn) bool {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return true
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return true
	}
	q := true
	if rc.Control(func(fd uintptr) { q = Unread(fd) }) != nil {
		return true
	}
	return q
}
