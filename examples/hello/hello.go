// Package hello is the classic first web app: every path answers
// "Hello, web!". It is the smallest http.Handler the stack can host, and the
// one the peers benchmark compares with a bare WSGI hello behind uWSGI.
package hello

import "net/http"

var body = []byte("Hello, web!")

// New returns the hello handler.
func New() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Content-Type"] = []string{"text/plain; charset=utf-8"}
		w.Write(body)
	})
}
