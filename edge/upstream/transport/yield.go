package transport

import "runtime"

// yieldForAnswer lets the goroutines that are ready run before the first
// read of an answer on a new Unix connection, not yet under the runtime's
// poller (internal/unixconn). The app server needs some tens of microseconds to
// answer, and a read at once mostly finds nothing (EAGAIN): the connection
// then joins the poller (fcntl, two epoll_ctl, an *os.File and its
// finalizer, a deadline timer), reads again, parks and is woken. Under
// load, when the edge has other requests to serve, the answer has mostly
// come by the time this goroutine runs again, as in nginx's event loop,
// which reads an upstream only when a later epoll_wait says so. With
// nothing else ready it returns at once, and the read waits as before.
//
// Measured in front of uWSGI (a new connection per request, wrk -c64):
// connections that had to wait in the poller 65-83% -> 17-24%, system
// calls a request 11.9 -> 9.0, CPU a request over the edge and uWSGI -15%.
// On a kept connection (hello and echo through the three tiers) it
// measured no gain, and it is not done there: such a connection joins
// the poller once, not once a request.
func yieldForAnswer() { runtime.Gosched() }
