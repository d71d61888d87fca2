package inflight

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// waitWaiting waits until q has n requests waiting.
func waitWaiting(t *testing.T, q *Cap, n int) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if _, w := q.State(); w == n {
			return
		}
	}
	_, w := q.State()
	t.Fatalf("%d waiting, want %d", w, n)
}

// Requests beyond the cap get their slot in the order they came.
func TestInFlightWaitersGoInArrivalOrder(t *testing.T) {
	q := New(2)
	for range 2 {
		if err := q.Acquire(context.Background(), time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	got := make(chan int, 5)
	var wg sync.WaitGroup
	for i := range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := q.Acquire(context.Background(), time.Minute); err != nil {
				t.Error(err)
				return
			}
			got <- i
		}()
		waitWaiting(t, q, i+1) // the next comes after this one is queued
	}
	for want := range 5 { // each release is of a request in flight
		q.Release()
		if i := <-got; i != want {
			t.Fatalf("slot %d went to waiter %d", want, i)
		}
	}
	wg.Wait()
	q.Release() // the last two waiters' requests
	q.Release()
	if held, waiting := q.State(); held != 0 || waiting != 0 {
		t.Errorf("after all: %d held, %d waiting", held, waiting)
	}
}

// A client that goes away leaves the queue, and the slot it would have had
// goes to the next one.
func TestInFlightCancelledWaiterLeaves(t *testing.T) {
	q := New(1)
	if err := q.Acquire(context.Background(), time.Minute); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	gone := make(chan error)
	go func() { gone <- q.Acquire(ctx, time.Minute) }()
	waitWaiting(t, q, 1)
	next := make(chan error)
	go func() { next <- q.Acquire(context.Background(), time.Minute) }()
	waitWaiting(t, q, 2)
	cancel()
	if err := <-gone; !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled wait: %v", err)
	}
	waitWaiting(t, q, 1)
	q.Release()
	if err := <-next; err != nil {
		t.Fatal(err)
	}
	q.Release()
	if held, waiting := q.State(); held != 0 || waiting != 0 {
		t.Errorf("after all: %d held, %d waiting", held, waiting)
	}
}

// Under many requests, some cancelled at any moment (also as they are
// handed a slot), no slot is lost and the cap is never passed.
func TestInFlightHoldsUnderChurn(t *testing.T) {
	const limit = 3
	q := New(limit)
	var mu sync.Mutex
	in, peak, served := 0, 0, 0
	var wg sync.WaitGroup
	for i := range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), time.Duration(i%7)*100*time.Microsecond)
			defer cancel()
			if i%2 == 0 {
				ctx = context.Background()
			}
			if q.Acquire(ctx, time.Minute) != nil {
				return
			}
			mu.Lock()
			in++
			peak = max(peak, in)
			served++
			mu.Unlock()
			time.Sleep(50 * time.Microsecond)
			mu.Lock()
			in--
			mu.Unlock()
			q.Release()
		}()
	}
	wg.Wait()
	if held, waiting := q.State(); held != 0 || waiting != 0 || peak > limit || served < 100 {
		t.Errorf("%d held, %d waiting, peak %d in flight (cap %d), %d served (every uncancelled one: >= 100)", held, waiting, peak, limit, served)
	}
}

// A wait that reaches its bound fails with ErrWaitBound and holds nothing;
// a nil Cap caps nothing.
func TestWaitBound(t *testing.T) {
	q := New(1)
	if err := q.Acquire(context.Background(), time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := q.Acquire(context.Background(), 20*time.Millisecond); !errors.Is(err, ErrWaitBound) {
		t.Errorf("wait past its bound: %v", err)
	}
	if held, waiting := q.State(); held != 1 || waiting != 0 {
		t.Errorf("after the bound: %d held, %d waiting; want 1, 0", held, waiting)
	}
	var none *Cap
	if New(0) != nil || none.Acquire(context.Background(), 0) != nil || none.Max() != 0 {
		t.Error("a cap of 0 is not nil, or nil caps")
	}
	none.Release()
}
