package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sort"
	"strings"
)

// App is an app the binary can serve, named by appserver.app in stack.yaml.
// The built-in apps are hello, echo and polls; a program of your own
// passes its apps to Main:
//
//	func main() {
//		cli.Main(cli.App{
//			Name: "shop",
//			New:  func(env cli.Env) (http.Handler, error) { return shop.NewRouter(), nil },
//		})
//	}
type App struct {
	// Name is what appserver.app refers to.
	Name string
	// Summary is one line for `stack apps`-style listings and errors.
	Summary string
	// Settings, if not nil, returns a pointer to the app's settings struct
	// filled with its defaults. The apps.<name> section of stack.yaml (and
	// STACK_APPS_<NAME>_* variables) is decoded into it strictly, and its
	// Validate() error method, if it has one, runs with the rest of the
	// configuration's checks.
	Settings func() any
	// Migrate, if not nil, brings the app's data up to date (Django's
	// migrate), printing what it does and how far along it is to env.Out.
	// `stack migrate` runs it, and `stack migrate` is then the default
	// release step (see README, release). It must be idempotent.
	Migrate func(ctx context.Context, env Env) error
	// New builds the app's handler. It runs once, at start-up.
	New func(env Env) (http.Handler, error)
	// NewWaitsForRelease says that New calls Env.Released before it
	// reads or writes what Migrate changes, so that a worker may build the
	// app while the default release (its Migrate) runs. Without it New
	// runs once the release is over: a New that migrates by itself would
	// otherwise race the release's migrate.
	NewWaitsForRelease bool
	// Users, if not nil, opens the app's user accounts for `stack
	// createsuperuser` and `stack changepassword`; the io.Closer releases
	// them. framework/auth's *Auth is a Users.
	Users func(env Env) (Users, io.Closer, error)
}

// Users is what the user commands need of an app's accounts.
type Users interface {
	CreateSuperuser(ctx context.Context, username, email, password string) error
	SetPassword(ctx context.Context, username, password string) error
	HasUser(ctx context.Context, username string) (bool, error)
	ValidatePassword(password, username string) error
}

// Env is what an app receives when it is built.
type Env struct {
	// Settings is the decoded settings struct (the pointer Settings
	// returned), or nil.
	Settings any
	// RunDir is the stack's run directory, where the app may keep data.
	RunDir string
	// Logger is the app's logger.
	Logger *slog.Logger
	// Out receives a management command's progress lines (stack
	// migrate); io.Discard when serving.
	Out io.Writer
	// Released, if not nil, waits until `stack up`'s release phase is
	// over; New may build before then, beside it, and calls Released
	// before it reads or writes anything the release changes. It is set
	// for a worker started before its master had the socket when the
	// release is only the app's Migrate (workerstart.go); nil means the
	// release is over.
	Released func() error
}

// registry maps app names to apps.
type registry map[string]App

func newRegistry(apps []App) (registry, error) {
	r := registry{}
	for _, a := range apps {
		if a.Name == "" || a.New == nil {
			return nil, fmt.Errorf("cli: app %q needs a Name and a New function", a.Name)
		}
		if a.Name != strings.ToLower(a.Name) {
			return nil, fmt.Errorf("cli: app name %q must be lower case (config keys are)", a.Name)
		}
		if _, dup := r[a.Name]; dup {
			return nil, fmt.Errorf("cli: app %q registered twice", a.Name)
		}
		r[a.Name] = a
	}
	return r, nil
}

// settings is the config loader's view: each name with its settings maker.
func (r registry) settings() map[string]func() any {
	m := make(map[string]func() any, len(r))
	for name, a := range r {
		m[name] = a.Settings
	}
	return m
}

func (r registry) names() []string {
	var out []string
	for name := range r {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}
