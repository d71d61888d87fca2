package appserver_test

import (
	"fmt"
	"log"
	"net/http"
	"os"
	"path/filepath"

	"github.com/stack-web/stack/appserver"
)

// Serve any http.Handler over uwsgi, as net/http/fcgi.Serve does over
// FastCGI. nginx reaches it with `uwsgi_pass unix:/path/app.sock;` and
// `include uwsgi_params;`; the stack's edge with an upstream of protocol
// uwsgi.
func ExampleServe() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)

	l, err := appserver.Listen("unix:"+filepath.Join(dir, "app.sock"), 0o660)
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "Hello, %s!\n", r.RemoteAddr)
	})
	srv := &appserver.Server{Handler: mux, Threads: 16}
	go srv.Serve(l)
	defer srv.Close()

	fmt.Println("listening on", filepath.Base(l.Addr().String()))
	// Output: listening on app.sock
}
