package tlsfront

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"sync/atomic"
	"time"
)

// Session tickets shared by several edge processes.
//
// A client resumes a TLS session (no certificate sent or signed; over TLS
// 1.2 no key exchange either, and one round trip less) with a ticket the
// server sealed with its ticket key. crypto/tls makes a random key per
// tls.Config and rotates it itself, so each edge process of
// edge.processes seals with a key of its own, and a client whose next
// connection the kernel gives to another process (SO_REUSEPORT hashes
// each new connection's addresses) makes a full handshake again. nginx's
// master makes one key before it forks its workers, so any worker opens
// any worker's ticket.
//
// Here the process that starts the edge processes makes one random secret
// and hands it to each (cli), and each derives the same keys from it and
// the wall clock: a new key every TicketKeyPeriod, and the keys of the
// TicketKeysKept-1 periods before it still open the tickets they sealed,
// as crypto/tls's own rotation does (a ticket lives at most a week). The
// keys are derived at a handshake that finds the period changed, so no
// timer runs, and every process agrees on them without talking: the same
// secret, the same clock.

const (
	// TicketKeyPeriod is how long a ticket key seals new tickets.
	TicketKeyPeriod = 24 * time.Hour
	// TicketKeysKept is how many keys open tickets: the current one and
	// those of the periods before it.
	TicketKeysKept = 7
	// TicketSecretSize is the size of the shared secret.
	TicketSecretSize = 32
)

// sharedTickets derives the ticket keys from a secret; the period whose
// keys the tls.Config holds is kept so that they are set once a period.
type sharedTickets struct {
	secret []byte
	period atomic.Int64 // the period of the keys in use; 0 before the first
}

// ShareTickets makes the ticket keys derive from secret (TicketSecretSize
// bytes), so that every edge process given the same secret opens the
// others' tickets. Call it before the first handshake.
func (t *Side) ShareTickets(secret []byte) error {
	if len(secret) != TicketSecretSize {
		return errors.New("tls: the shared session ticket secret must be 32 bytes")
	}
	s := &sharedTickets{secret: append([]byte(nil), secret...)}
	t.tickets.Store(s)
	s.update(t, time.Now())
	return nil
}

// update sets the keys of now's period if they are not set yet.
func (s *sharedTickets) update(t *Side, now time.Time) {
	p := ticketPeriod(now)
	if old := s.period.Load(); old == p || !s.period.CompareAndSwap(old, p) {
		return
	}
	t.config.SetSessionTicketKeys(TicketKeys(s.secret, now))
}

func ticketPeriod(now time.Time) int64 {
	return now.Unix()/int64(TicketKeyPeriod/time.Second) + 1 // never 0
}

// TicketKeys are the session ticket keys at now derived from secret:
// the key that seals new tickets first, then the ones of the periods
// before it, newest first.
func TicketKeys(secret []byte, now time.Time) [][32]byte {
	p := ticketPeriod(now)
	keys := make([][32]byte, 0, TicketKeysKept)
	for i := range int64(TicketKeysKept) {
		if p-i < 1 {
			break
		}
		m := hmac.New(sha256.New, secret)
		m.Write([]byte("stack edge tls session ticket key "))
		m.Write(binary.BigEndian.AppendUint64(nil, uint64(p-i)))
		keys = append(keys, [32]byte(m.Sum(nil)))
	}
	return keys
}
