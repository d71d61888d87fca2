//go:build linux && !race

package h1

import "testing"

// A read and a write allocate nothing (the race detector's build goes
// through package syscall, and its instrumentation allocates).
func TestRawTCPAllocatesNothing(t *testing.T) {
	raw, client := tcpPair(t)
	p := make([]byte, 64)
	q := make([]byte, 64)
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := raw.Write(p); err != nil {
			t.Fatal(err)
		}
		if _, err := client.Read(q); err != nil {
			t.Fatal(err)
		}
		if _, err := client.Write(q); err != nil {
			t.Fatal(err)
		}
		if _, err := raw.Read(p); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per write and read, want 0", allocs)
	}
}
