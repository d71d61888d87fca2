package bench

import (
	"context"
	"strings"
	"testing"
	"time"
)

// Options that cannot be measured are refused before anything starts: a
// cell of 0 connections waited forever for a request no connection sent,
// and a negative count panicked.
func TestRunRefusesBadConnections(t *testing.T) {
	for _, conns := range [][]int{{0}, {1, -5}} {
		o := Options{Binary: "/nonexistent", App: "hello", Duration: time.Second, Connections: conns, Out: t.TempDir()}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		rep, err := Run(ctx, o)
		cancel()
		if err == nil || !strings.Contains(err.Error(), "--connections") || rep != nil {
			t.Errorf("connections %v: %v, %v; want an error naming --connections", conns, rep, err)
		}
	}
	o := Options{Binary: "/nonexistent", App: "hello", Duration: time.Second, Warmup: -time.Second, Connections: []int{1}, Out: t.TempDir()}
	if _, err := Run(context.Background(), o); err == nil || !strings.Contains(err.Error(), "--warmup") {
		t.Errorf("warmup -1s: %v; want an error naming --warmup", err)
	}
}
