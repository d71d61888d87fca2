package appserver

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

type ctxKey struct{}

func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	case <-time.After(2 * time.Second):
		return false
	}
}

func TestRequestContext(t *testing.T) {
	base, cancelBase := context.WithCancel(context.WithValue(context.Background(), ctxKey{}, "v"))
	defer cancelBase()

	t.Run("cancel before Done", func(t *testing.T) {
		c := newRequestContext(base)
		if c.Err() != nil || c.Value(ctxKey{}) != "v" {
			t.Fatalf("fresh: Err %v, Value %v", c.Err(), c.Value(ctxKey{}))
		}
		c.cancel()
		if !errors.Is(c.Err(), context.Canceled) {
			t.Errorf("Err after cancel: %v", c.Err())
		}
		if !closed(c.Done()) {
			t.Error("Done not closed after cancel")
		}
		if !errors.Is(context.Cause(c), context.Canceled) {
			t.Errorf("Cause after cancel: %v", context.Cause(c))
		}
		if c.Value(ctxKey{}) != "v" {
			t.Error("value lost")
		}
	})
	t.Run("children follow", func(t *testing.T) {
		c := newRequestContext(base)
		child, stop := context.WithTimeout(c, time.Hour)
		defer stop()
		after := make(chan struct{})
		context.AfterFunc(c, func() { close(after) })
		c.cancel()
		if !closed(child.Done()) || !closed(after) {
			t.Fatal("a child or AfterFunc of the request context was not cancelled with it")
		}
		if !errors.Is(child.Err(), context.Canceled) {
			t.Errorf("child Err: %v", child.Err())
		}
	})
	t.Run("base cancelled", func(t *testing.T) {
		b, cb := context.WithCancel(context.Background())
		c1, c2 := newRequestContext(b), newRequestContext(b)
		done := c1.Done() // made before, and after
		cb()
		if !closed(done) || !closed(c2.Done()) {
			t.Fatal("the base's cancellation did not reach the request context")
		}
		if !errors.Is(c1.Err(), context.Canceled) || !errors.Is(c2.Err(), context.Canceled) {
			t.Errorf("Err: %v, %v", c1.Err(), c2.Err())
		}
	})
	t.Run("concurrent", func(t *testing.T) {
		for range 100 {
			c := newRequestContext(base)
			var wg sync.WaitGroup
			wg.Go(func() { <-c.Done() })
			wg.Go(func() { c.Err(); c.Value(ctxKey{}) })
			wg.Go(c.cancel)
			wg.Wait()
			if !errors.Is(c.Err(), context.Canceled) {
				t.Fatalf("Err: %v", c.Err())
			}
		}
	})
}

// BenchmarkRequestContext is the context a harakiri-armed request gets and
// ends with, against context.WithCancel on the same cancellable base.
func BenchmarkRequestContext(b *testing.B) {
	base, cancel := context.WithCancel(context.Background())
	defer cancel()
	b.Run("lazy", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			c := newRequestContext(base)
			c.cancel()
		}
	})
	b.Run("WithCancel", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, c := context.WithCancel(base)
			c()
		}
	})
}
