package h1

import (
	"context"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// reqCtx is a request's context: cancelled when the handler returns or the
// client is found gone. It answers the values net/http's contexts carry
// (http.ServerContextKey, http.LocalAddrContextKey) without a chain of
// contexts, and it watches the client only for a handler that asks: the
// watch (reader.go) is armed when Done or AfterFunc is first called
// (context.WithCancel and WithTimeout call them on their parent), and the
// read-ahead starts if the handler still runs watchDelay later, so a
// request that never waits on its context (a static file), or is
// answered sooner (most proxied ones), costs no goroutine. Err alone does
// not arm it: it reports what is known.
type reqCtx struct {
	c      *conn
	mu     sync.Mutex
	done   chan struct{} // made by the first Done
	err    error
	afters []*afterFunc
	watch  bool // the client is to be watched
	// url is the request's URL, parsed into here, and req the request
	// the handler gets: the request, its context and URL live as long,
	// in one allocation.
	url url.URL
	req http.Request
}

type afterFunc struct{ f func() }

var _ interface {
	context.Context
	AfterFunc(func()) func() bool
} = (*reqCtx)(nil)

func (x *reqCtx) Deadline() (time.Time, bool) { return time.Time{}, false }

func (x *reqCtx) Done() <-chan struct{} {
	x.mu.Lock()
	if x.done == nil {
		x.done = make(chan struct{})
		if x.err != nil {
			close(x.done)
		}
	}
	d := x.done
	start := x.wantWatchLocked()
	x.mu.Unlock()
	if start {
		x.c.watch()
	}
	return d
}

// wantWatchLocked notes that the client is to be watched and reports
// whether that is new.
func (x *reqCtx) wantWatchLocked() bool {
	if x.watch || x.err != nil {
		return false
	}
	x.watch = true
	return true
}

func (x *reqCtx) watching() bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.watch
}

func (x *reqCtx) Err() error {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.err
}

func (x *reqCtx) Value(key any) any {
	switch key {
	case http.ServerContextKey:
		return x.c.srv.contextServer()
	case http.LocalAddrContextKey:
		return x.c.rwc.LocalAddr()
	case connKey{}:
		return x.c
	}
	return nil
}

// AfterFunc is what context.AfterFunc and the context package's children
// use: f runs in its own goroutine once x is done.
func (x *reqCtx) AfterFunc(f func()) (stop func() bool) {
	a := &afterFunc{f}
	x.mu.Lock()
	if x.err != nil {
		x.mu.Unlock()
		go f()
		return func() bool { return false }
	}
	x.afters = append(x.afters, a)
	start := x.wantWatchLocked()
	x.mu.Unlock()
	if start {
		x.c.watch()
	}
	return func() bool {
		x.mu.Lock()
		defer x.mu.Unlock()
		for i, b := range x.afters {
			if b == a {
				x.afters = append(x.afters[:i], x.afters[i+1:]...)
				return true
			}
		}
		return false
	}
}

// cancel ends x (once).
func (x *reqCtx) cancel() {
	x.mu.Lock()
	if x.err != nil {
		x.mu.Unlock()
		return
	}
	x.err = context.Canceled
	if x.done != nil {
		close(x.done)
	}
	afters := x.afters
	x.afters = nil
	x.mu.Unlock()
	for _, a := range afters {
		go a.f()
	}
}

func (x *reqCtx) String() string { return "h1.requestContext" }
