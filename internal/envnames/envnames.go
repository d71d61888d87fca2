// Package envnames names the environment variables the stack sets for its
// own child processes. They start with STACK_ like the configuration
// variables (STACK_EDGE_LISTEN), so the config loader must know them to
// not read them as keys: a child that loads its configuration would
// otherwise warn that they name no key. The package imports nothing, so
// that any package may use it, package launch included (see its note on
// initialisation order).
package envnames

const (
	// PreforkAwaitStart marks a prespawned worker's environment
	// (appserver/prefork).
	PreforkAwaitStart = "STACK_PREFORK_AWAIT_START"
	// SignalReadyFD names the descriptor a supervised child writes one
	// byte to once it handles signals (supervisor).
	SignalReadyFD = "STACK_SIGNAL_READY_FD"
	// EarlyWorker marks an early worker process's environment
	// (internal/earlyworker/launch).
	EarlyWorker = "STACK_EARLY_WORKER"
	// InheritedListeners names the listening sockets a tier child of
	// `stack up`'s mode: subprocess inherits from its parent, which holds
	// them across the child's restarts (cli).
	InheritedListeners = "STACK_INHERITED_LISTENERS"
	// ConfigFD names the descriptor holding the configuration a child
	// loads instead of the file (internal/heldconfig).
	ConfigFD = "STACK_CONFIG_FD"
	// TLSTicketSecretFD names the descriptor holding the secret an edge
	// child derives its TLS session ticket keys from, the same in all of
	// them (cli).
	TLSTicketSecretFD = "STACK_TLS_TICKET_SECRET_FD"
)

// Internal reports whether name is one of the variables above: the
// stack's own, not a configuration key.
func Internal(name string) bool {
	switch name {
	case PreforkAwaitStart, SignalReadyFD, EarlyWorker, InheritedListeners, ConfigFD, TLSTicketSecretFD:
		return true
	}
	return false
}
