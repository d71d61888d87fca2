// Command ownapp shows how to put your own http.Handler behind the stack:
// a program of yours that registers its app and hands control to the stack
// command line. It gets every command (up, edge, appserver, check, ...).
//
//	go run ./examples/ownapp up --app notes
//	curl http://127.0.0.1:8000/notes
package main

import (
	"encoding/json"
	"net/http"
	"sync"

	"github.com/stack-web/stack/cli"
)

// notes is a plain net/http app: any http.Handler works (chi, gin, ...).
type notes struct {
	mu    sync.Mutex
	items []string
}

func (n *notes) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n.mu.Lock()
	defer n.mu.Unlock()
	switch r.Method {
	case http.MethodPost:
		n.items = append(n.items, r.FormValue("text"))
		w.WriteHeader(http.StatusCreated)
	default:
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(n.items)
	}
}

// Settings are read from apps.notes in stack.yaml (and STACK_APPS_NOTES_*).
type Settings struct {
	Title string `yaml:"title"`
}

func main() {
	cli.Main(cli.App{
		Name:     "notes",
		Summary:  "a list of notes: GET to read, POST text= to add",
		Settings: func() any { return &Settings{Title: "Notes"} },
		New: func(env cli.Env) (http.Handler, error) {
			mux := http.NewServeMux()
			mux.Handle("/notes", &notes{})
			return mux, nil
		},
	})
}
