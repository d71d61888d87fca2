package transport

import "testing"

// The census tells a server that keeps its connections (this project's
// appserver) from one that closes each (uWSGI), whatever the request's
// method: a POST takes a new connection from either.
func TestCensusCountsKeptAndClosedAnswers(t *testing.T) {
	var c Census
	keeper := startFakeUwsgi(t, true, 1000)
	closer := startFakeUwsgi(t, false, 1)
	for _, s := range []struct {
		sock string
		n    int
	}{{keeper.sock, 3}, {closer.sock, 2}} {
		rt := keptTransport(s.sock)
		rt.Census = &c
		for range s.n - 1 {
			roundTrip(t, rt, "GET", "/a", "")
		}
		roundTrip(t, rt, "POST", "/a", "x")
		rt.CloseIdleConnections()
	}
	if kept, closed := c.Counts(); kept != 3 || closed != 2 {
		t.Errorf("census: %d kept, %d closed answers; want 3 and 2", kept, closed)
	}
	// A transport without a census counts nothing, and does not fail.
	roundTrip(t, keptTransport(closer.sock), "GET", "/a", "")
	if kept, closed := c.Counts(); kept != 3 || closed != 2 {
		t.Errorf("a transport without the census counted: %d, %d", kept, closed)
	}
}

// With keepalive 0 the edge does not offer to keep the connection, so this
// project's appserver closes it as uWSGI does: those answers say nothing of
// which server it is, and are not counted (counted as closed, they set
// `stack edge` in front of the appserver on half its CPUs).
func TestCensusSkipsAnswersKeepAliveWasNotOffered(t *testing.T) {
	var c Census
	keeper := startFakeUwsgi(t, true, 1000)
	rt := keptTransport(keeper.sock)
	rt.KeepAlive, rt.Census = 0, &c
	for range 3 {
		roundTrip(t, rt, "GET", "/a", "")
	}
	if kept, closed := c.Counts(); kept != 0 || closed != 0 {
		t.Errorf("census with keep-alive not offered: %d kept, %d closed answers; want none", kept, closed)
	}
}
