// Package config reads stack.yaml into typed structs, once, at start-up.
//
// Sources, weakest first: the built-in defaults, the file (--config, else
// ./stack.yaml if present), STACK_* environment variables (the key path in
// capitals with "_" for ".", e.g. STACK_EDGE_LISTEN=127.0.0.1:9000), then
// --set key=value flags. viper merges them; this package then decodes the
// result strictly (an unknown key or a bad value is an error naming the key
// and the file) and validates it, reporting every problem at once.
package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"reflect"
	"strings"
	"time"

	"github.com/spf13/viper"
	"go.yaml.in/yaml/v3"

	"github.com/stack-web/stack/appserver"
	"github.com/stack-web/stack/edge"
)

// DefaultPath is the file read when no --config is given.
const DefaultPath = "stack.yaml"

// File is the whole configuration.
type File struct {
	// Mode is "inprocess" (the tiers are goroutines of one process) or
	// "subprocess" (each tier is a child process).
	Mode string `yaml:"mode"`
	// RunDir holds sockets, temporary files and data; created 0700.
	RunDir string `yaml:"run_dir"`
	// ShutdownTimeout bounds a graceful stop: requests in flight get this
	// long to finish.
	ShutdownTimeout time.Duration    `yaml:"shutdown_timeout"`
	Edge            edge.Config      `yaml:"edge"`
	Appserver       appserver.Config `yaml:"appserver"`
	// Processes are extra commands supervised alongside the tiers.
	Processes []Process `yaml:"processes"`
	// Apps holds each app's settings section, keyed by app name; an app
	// registered with a settings type gets that type, decoded strictly.
	Apps map[string]any `yaml:"apps"`

	// Source names where the configuration came from, for messages: the
	// file's path, or "built-in defaults".
	Source string `yaml:"-"`
}

// Process is an extra command run and restarted by the supervisor.
type Process struct {
	Name    string   `yaml:"name"`
	Command []string `yaml:"command"`
	// Dir is the working directory; "" is the stack's.
	Dir string `yaml:"dir"`
	// Env adds KEY=VALUE entries to the inherited environment.
	Env []string `yaml:"env"`
	// Restart is "always" (default), "on-failure" or "never".
	Restart string `yaml:"restart"`
}

// Default returns the built-in configuration: the polls app behind the
// edge on 127.0.0.1:8000, which is what `stack up` runs with no file.
func Default() File {
	e := edge.DefaultConfig()
	// No static location: without a file the binary may run anywhere, and
	// the app serves its own static files in debug (stack.yaml in the
	// repository has the edge serve them, as it should in production).
	e.Locations = []edge.LocationConfig{{Path: "/", Upstream: "app"}}
	up := edge.DefaultUpstream()
	up.Servers = []string{"unix:run/app.sock"}
	e.Upstreams = map[string]edge.UpstreamConfig{"app": up}
	return File{
		Mode:            "inprocess",
		RunDir:          "run",
		ShutdownTimeout: 10 * time.Second,
		Edge:            e,
		Appserver:       appserver.DefaultConfig(),
		Apps:            map[string]any{},
	}
}

// Options says where to read from.
type Options struct {
	// Path is the file given with --config; "" means DefaultPath if it
	// exists, else the built-in defaults alone.
	Path string
	// Set holds --set key=value overrides, strongest of all.
	Set []string
	// DefaultApp replaces appserver.app's built-in default ("polls"), for
	// binaries that do not have polls.
	DefaultApp string
	// Apps maps each app name the binary knows to a function returning a
	// pointer to its settings struct filled with defaults (nil: the app
	// takes no settings). apps.<name> is decoded into it.
	Apps map[string]func() any
}

// Load reads, merges, decodes and validates the configuration. The error
// lists every problem, each prefixed with the file's name.
func Load(opts Options) (*File, error) {
	path, explicit := opts.Path, opts.Path != ""
	if !explicit {
		path = DefaultPath
	}
	source := path
	v := viper.New()
	if _, err := os.Stat(path); err == nil {
		v.SetConfigFile(path)
		v.SetConfigType("yaml")
		if err := v.ReadInConfig(); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	} else if explicit || !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("config: %w", err)
	} else {
		source = "built-in defaults"
	}

	def := Default()
	if opts.DefaultApp != "" {
		def.Appserver.App = opts.DefaultApp
	}
	defaults := map[string]any{}
	flatten("", reflect.ValueOf(def), defaults)
	apps := map[string]reflect.Value{}
	for name, newSettings := range opts.Apps {
		if newSettings == nil {
			continue
		}
		s := reflect.ValueOf(newSettings())
		if s.Kind() != reflect.Pointer || s.Elem().Kind() != reflect.Struct {
			return nil, fmt.Errorf("config: app %s: settings must be a pointer to a struct, got %s", name, s.Type())
		}
		apps[strings.ToLower(name)] = s
		flatten("apps."+strings.ToLower(name), s.Elem(), defaults)
	}
	for k, val := range defaults {
		v.SetDefault(k, val)
	}
	v.SetEnvPrefix("STACK")
	v.SetEnvKeyReplacer(strings.NewReplacer(".", "_"))
	v.AutomaticEnv()
	for _, kv := range opts.Set {
		k, val, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--set %q: expected key=value, e.g. --set edge.listen=127.0.0.1:9000", kv)
		}
		v.Set(strings.ToLower(k), val)
	}

	settings := v.AllSettings()
	appSettings, _ := settings["apps"].(map[string]any)
	delete(settings, "apps")

	f := def
	d := &decoder{newElem: map[reflect.Type]func() reflect.Value{
		reflect.TypeFor[edge.UpstreamConfig](): func() reflect.Value {
			u := edge.DefaultUpstream()
			return reflect.ValueOf(&u).Elem()
		},
		reflect.TypeFor[Process](): func() reflect.Value {
			p := Process{Restart: "always"}
			return reflect.ValueOf(&p).Elem()
		},
	}}
	d.decode("", settings, reflect.ValueOf(&f).Elem())
	f.Apps = map[string]any{}
	for _, name := range sortedKeys(appSettings) {
		s, known := apps[name]
		if !known {
			if _, registered := opts.Apps[name]; !registered && opts.Apps != nil {
				d.problem("apps."+name, "no app of that name is built into this binary (known: %s)", strings.Join(sortedKeys(opts.Apps), ", "))
				continue
			}
			f.Apps[name] = appSettings[name]
			continue
		}
		d.decode("apps."+name, appSettings[name], s.Elem())
		f.Apps[name] = s.Interface()
	}
	for name, s := range apps {
		if _, done := f.Apps[name]; !done {
			f.Apps[name] = s.Interface()
		}
	}
	f.Source = source

	// Validate even when decoding found problems, so that one run of
	// `stack check` lists everything wrong.
	problems := d.problems
	if err := f.Validate(opts.Apps); err != nil {
		for _, e := range unjoin(err) {
			problems = append(problems, e.Error())
		}
	}
	if len(problems) > 0 {
		return nil, &Error{Source: source, Problems: problems}
	}
	return &f, nil
}

// Error lists the problems found in a configuration.
type Error struct {
	Source   string
	Problems []string
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d problem(s):", e.Source, len(e.Problems))
	for _, p := range e.Problems {
		fmt.Fprintf(&b, "\n  %s: %s", e.Source, p)
	}
	return b.String()
}

// Validate checks the whole configuration, including the cross-tier rules.
// apps, when not nil, lists the app names this binary knows.
func (f *File) Validate(apps map[string]func() any) error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}
	switch f.Mode {
	case "inprocess", "subprocess":
	default:
		bad("mode", "%q is not inprocess or subprocess", f.Mode)
	}
	if f.RunDir == "" {
		bad("run_dir", "empty; give a directory for sockets and data, e.g. run")
	}
	if f.ShutdownTimeout <= 0 {
		bad("shutdown_timeout", "must be a positive duration such as 10s")
	}
	if err := f.Edge.Validate(); err != nil {
		errs = append(errs, unjoin(err)...)
	}
	if err := f.Appserver.Validate(); err != nil {
		errs = append(errs, unjoin(err)...)
	}
	if apps != nil && f.Appserver.App != "" {
		if _, ok := apps[f.Appserver.App]; !ok {
			bad("appserver.app", "%q is not built into this binary (known: %s)", f.Appserver.App, strings.Join(sortedKeys(apps), ", "))
		}
	}
	names := map[string]bool{"edge": true, "appserver": true}
	for i, p := range f.Processes {
		key := fmt.Sprintf("processes[%d]", i)
		switch {
		case p.Name == "":
			bad(key+".name", "empty; every process needs a name for its log lines")
		case names[p.Name]:
			bad(key+".name", "%q is used twice (edge and appserver are taken)", p.Name)
		}
		names[p.Name] = true
		if len(p.Command) == 0 || p.Command[0] == "" {
			bad(key+".command", "empty; give the program and its arguments as a list")
		}
		for j, kv := range p.Env {
			if !strings.Contains(kv, "=") {
				bad(fmt.Sprintf("%s.env[%d]", key, j), "%q is not KEY=VALUE", kv)
			}
		}
		switch p.Restart {
		case "always", "on-failure", "never":
		default:
			bad(key+".restart", "%q is not always, on-failure or never", p.Restart)
		}
	}
	for _, name := range sortedKeys(f.Apps) {
		if v, ok := f.Apps[name].(interface{ Validate() error }); ok {
			if err := v.Validate(); err != nil {
				for _, e := range unjoin(err) {
					if strings.HasPrefix(e.Error(), "apps."+name+".") {
						errs = append(errs, e) // already names its key
					} else {
						bad("apps."+name, "%v", e)
					}
				}
			}
		}
	}
	return errors.Join(errs...)
}

// YAML renders the configuration as stack.yaml would hold it.
func (f *File) YAML() ([]byte, error) {
	n := encode(reflect.ValueOf(*f))
	return yaml.Marshal(n)
}

func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}
