// Command ownapp puts an http.Handler of its own behind the stack: it
// registers its app and hands over to the stack command line, so it has
// every command (up, edge, appserver, check, ...) and only its own apps.
package main

import (
	"encoding/json"
	"net/http"
	"sync"

	"github.com/stack-web/stack/cli"
)

// Settings are read from apps.notes in stack.yaml (and STACK_APPS_NOTES_*).
type Settings struct {
	Title string `yaml:"title"`
}

// notes answers every path: GET lists the notes, POST text=... adds one.
// It is plain net/http; any http.Handler works (chi, gin, ...).
type notes struct {
	title string
	mu    sync.Mutex
	items []string
}

func (n *notes) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if r.Method == http.MethodPost {
		n.items = append(n.items, r.FormValue("text"))
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"title": n.title, "notes": n.items})
}

func main() {
	cli.Main(cli.App{
		Name:     "notes",
		Summary:  "a list of notes: GET to read, POST text= to add",
		Settings: func() any { return &Settings{Title: "Notes"} },
		New: func(env cli.Env) (http.Handler, error) {
			return &notes{title: env.Settings.(*Settings).Title}, nil
		},
	})
}
