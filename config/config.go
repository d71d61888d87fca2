// Package config reads stack.yaml into typed structs, once, at start-up.
//
// Sources, weakest first: the built-in defaults, the file (--config, else
// ./stack.yaml if present), STACK_* environment variables (the key path in
// capitals with "_" for ".", e.g. STACK_EDGE_LISTEN=127.0.0.1:9000), then
// --set key=value flags. They are merged into one tree (source.go), which
// is decoded strictly over the defaults (decode.go: an unknown key or a bad
// value is an error naming the key and where it was written) and validated
// for what the command runs (validate.go, addr.go), reporting every
// problem at once.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/stack-web/stack/admin"
	"github.com/stack-web/stack/appserver"
	"github.com/stack-web/stack/edge"
	"github.com/stack-web/stack/edge/upstream"
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
	Admin           admin.Config     `yaml:"admin"`
	// Processes are extra commands supervised alongside the tiers.
	Processes []Process `yaml:"processes"`
	// Release lists commands (argv lists) that `stack up` runs to
	// completion, in order, before anything listens: migrations,
	// collectstatic. A program named "stack" is this binary, run with the
	// same --config and --set flags. Not given: the app's default
	// (Options.DefaultRelease; [[stack, migrate]] for an app with
	// migrations); given, even as [], it replaces that default.
	Release [][]string `yaml:"release"`
	// LogFormat is "text" (slog's key=value lines) or "json" (one object
	// per line), for every tier's log, in every process.
	LogFormat string `yaml:"log_format"`
	// Apps holds each app's settings section, keyed by app name; an app
	// registered with a settings type gets that type, decoded strictly.
	Apps map[string]any `yaml:"apps"`

	// Source names where the configuration came from, for messages: the
	// file's path, or "built-in defaults".
	Source string `yaml:"-"`
	// Warnings are things that will not stop the stack but are probably
	// not what was meant (an edge that does not reach the app server).
	Warnings []string `yaml:"-"`
	// DevelopmentDebug is set when there was no stack.yaml and the apps run
	// with debug on by the development defaults (see developmentDefaults).
	DevelopmentDebug bool `yaml:"-"`
	// AdminGiven says that a source set a key of the admin section:
	// `stack edge` and `stack appserver` open the admin surface only
	// then, so that the two run side by side in one run_dir do not both
	// take its default port and socket.
	AdminGiven bool `yaml:"-"`
	// Held is the text this configuration was read from, which the
	// process gives its children to load (see Held).
	Held Held `yaml:"-"`
}

// Held is the text a configuration was loaded from: the file's bytes as
// this process read them, or no file (the built-in defaults). The process
// that read and validated it gives it to its children (worker processes,
// the tier children of mode: subprocess, migrate's child run as
// appserver.user), which load it (Options.Held) rather than the file, as
// nginx and uWSGI fork from the configuration in memory: a file edited or
// broken on disk takes effect only on a reload, which validates it first.
type Held struct {
	File bool   // a file was read; false: there was none (built-in defaults)
	Data []byte // the file's bytes
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

// TiersInChildren says whether `stack up` runs its tiers as child
// processes: mode: subprocess, or more than one edge process, which only
// child processes can be (edge.processes).
func (f *File) TiersInChildren() bool {
	return f.Mode == "subprocess" || f.Edge.Processes > 1
}

// Default returns the built-in configuration: the polls app behind the
// edge on 127.0.0.1:8000, which is what `stack up` runs with no file.
func Default() File {
	e := edge.DefaultConfig()
	// No static location: without a file the binary may run anywhere, and
	// the app serves its own static files in debug (stack.yaml in the
	// repository has the edge serve them, as it should in production).
	e.Locations = []edge.LocationConfig{{Path: "/", Upstream: "app"}}
	up := upstream.Default()
	up.Servers = []string{"unix:run/app.sock"} // follows appserver.listen: see derive
	e.Upstreams = map[string]upstream.Config{defaultUpstream: up}
	return File{
		Mode:            "inprocess",
		RunDir:          "run",
		ShutdownTimeout: 10 * time.Second,
		LogFormat:       "text",
		Edge:            e,
		Appserver:       appserver.DefaultConfig(),
		Admin:           admin.DefaultConfig(),
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
	// DefaultRelease, if not nil, returns the release commands for the
	// app appserver.app names when no source gives release.
	DefaultRelease func(app string) [][]string
	// Scope is what the command runs, and so what is validated: "" or
	// "up" for everything, "edge", "appserver", "app" (the app alone:
	// createsuperuser), "inspect" (nothing beyond decoding: routes and
	// collectstatic, which build the app only to look at it), or "worker" (a worker process:
	// the appserver and its app, without the machine checks its master
	// made).
	Scope string
	// Held, if not nil, is the text to load instead of reading Path: what
	// the parent process holds (Path still names it in messages).
	Held *Held
	// RefuseBlank refuses a file that is empty or only whitespace rather
	// than load the defaults from it: a reload's, when the running
	// configuration was read from a file that was not (ErrBlank).
	RefuseBlank bool
}

// ErrBlank is a file refused by Options.RefuseBlank.
var ErrBlank = errors.New("is empty (or only whitespace)")

// Load reads, merges, decodes and validates the configuration. The error
// lists every problem, each prefixed with where it was written: the
// file's path, the STACK_* variable or the --set flag.
func Load(opts Options) (*File, error) {
	f, _, err := load(opts)
	return f, err
}

// load is Load, also returning where each value came from, for Explain.
func load(opts Options) (*File, *origins, error) {
	path, explicit := opts.Path, opts.Path != ""
	noFile := false
	if !explicit {
		path = DefaultPath
	}
	source := path
	var data []byte
	var err error
	switch {
	case opts.Held == nil:
		data, err = readFile(path)
		if err == nil && opts.RefuseBlank && len(bytes.TrimSpace(data)) == 0 {
			// Most likely a file being written in place (cp, a shell's
			// >, an editor), truncated and not yet filled.
			return nil, nil, fmt.Errorf("config: %s %w: it would apply the built-in defaults; a file written in place is read half-written, so write the new one beside it and rename it over (mv)", path, ErrBlank)
		}
	case opts.Held.File:
		data = opts.Held.Data
	default: // the parent ran without a file: one made since is not read
		err = &fs.PathError{Op: "open", Path: path, Err: fs.ErrNotExist}
	}
	var root *node
	if err == nil {
		root, err = parseFile(data, path)
	}
	switch {
	case err == nil:
	case !explicit && errors.Is(err, fs.ErrNotExist):
		source = "built-in defaults"
		root = &node{kind: mapNode, m: map[string]*node{}, src: source}
		noFile = true
	case errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission):
		return nil, nil, fmt.Errorf("config: %w", err)
	default:
		return nil, nil, err
	}

	def := Default()
	if opts.DefaultApp != "" {
		def.Appserver.App = opts.DefaultApp
	}
	kt := &keyTree{root: root, defaults: def, apps: map[string]reflect.Type{}}
	apps := map[string]reflect.Value{}
	for name, newSettings := range opts.Apps {
		kt.apps[name] = nil
		if newSettings == nil {
			continue
		}
		s := reflect.ValueOf(newSettings())
		if s.Kind() != reflect.Pointer || s.Elem().Kind() != reflect.Struct {
			return nil, nil, fmt.Errorf("config: app %s: settings must be a pointer to a struct, got %s", name, s.Type())
		}
		apps[name] = s
		kt.apps[name] = s.Elem().Type()
	}
	if noFile {
		developmentDefaults(root, kt.apps)
	}
	warnings, setProblems := kt.applyEnv(os.Environ())
	more, err := applySets(root, opts.Set)
	if err != nil {
		return nil, nil, err
	}
	setProblems = append(setProblems, more...)
	devDebug := noFile && devDebugKept(root)

	f := def
	d := &decoder{newElem: map[reflect.Type]func() reflect.Value{
		reflect.TypeFor[upstream.Config](): func() reflect.Value {
			u := upstream.Default()
			return reflect.ValueOf(&u).Elem()
		},
		reflect.TypeFor[Process](): func() reflect.Value {
			p := Process{Restart: "always"}
			return reflect.ValueOf(&p).Elem()
		},
	}}
	appsNode := root.m["apps"]
	delete(root.m, "apps")
	d.decode("", root, reflect.ValueOf(&f).Elem())
	if appsNode != nil {
		root.m["apps"] = appsNode
	}
	f.Apps = d.apps(appsNode, apps, opts.Apps)
	derived := f.derive(root)
	if !root.has("release") && opts.DefaultRelease != nil {
		if r := opts.DefaultRelease(f.Appserver.App); len(r) > 0 {
			f.Release = r
			derived["release"] = "default for app " + f.Appserver.App
		}
	}
	f.Source = source

	// Validate even when decoding found problems, so that one run of
	// `stack check` lists everything wrong.
	problems := append(setProblems, d.problems...)
	if err := f.validate(opts.Scope, opts.Apps); err != nil {
		for _, e := range unjoin(err) {
			key, _, _ := strings.Cut(e.Error(), ": ")
			if d.bad[key] {
				continue // a value that could not be decoded kept its default: one message is enough
			}
			src, isDerived := derived[key]
			if !isDerived {
				src = "built-in defaults"
				if n := root.at(key); n != nil {
					src = n.src
				}
			}
			problems = append(problems, src+": "+e.Error())
		}
	}
	warnings = append(warnings, f.warnings(opts.Scope)...)
	if len(problems) > 0 {
		return nil, nil, &Error{Source: source, Problems: problems, Warnings: warnings}
	}
	f.Warnings = warnings
	f.DevelopmentDebug = devDebug
	f.Held = Held{File: !noFile, Data: data}
	return &f, &origins{source: source, root: root, derived: derived}, nil
}

// apps decodes the apps section: each registered app's settings into its
// struct, strictly. An app without a settings type takes no settings.
func (d *decoder) apps(n *node, settings map[string]reflect.Value, registered map[string]func() any) map[string]any {
	out := map[string]any{}
	if n != nil && !(n.kind == scalarNode && n.value == nil) {
		if n.kind == textNode {
			y, err := parseYAML([]byte(n.text), n.src)
			if err != nil {
				d.problem(n, "apps", "not valid YAML for a mapping: %v", err)
				n = nil
			} else {
				n = y
			}
		}
		if n != nil && n.kind != mapNode {
			// A list or a scalar here is an indentation slip: dropping it
			// would run the app with its (debug) defaults.
			d.problem(n, "apps", "expected a mapping of app names to their settings (apps: {polls: {debug: false}}), got %s", describe(n))
			n = nil
		}
	}
	if n != nil && n.kind == mapNode {
		for _, name := range sortedKeys(n.m) {
			v := n.m[name]
			s, hasSettings := settings[name]
			_, known := registered[name]
			switch {
			case hasSettings:
				d.decode("apps."+name, v, s.Elem())
				out[name] = s.Interface()
			case known:
				if !(v.kind == scalarNode && v.value == nil) && !(v.kind == mapNode && len(v.m) == 0) {
					d.problem(v, "apps."+name, "this app takes no settings")
				}
			case registered != nil:
				d.problem(v, "apps."+name, "no app of that name is built into this binary (known: %s)", strings.Join(sortedKeys(registered), ", "))
			default:
				out[name] = plain(v)
			}
		}
	}
	for name, s := range settings {
		if _, done := out[name]; !done {
			out[name] = s.Interface()
		}
	}
	return out
}

// derive fills in the keys whose defaults follow from others, so that the
// socket path is written once: appserver.listen defaults to
// unix:RUN_DIR/app.sock, and the default upstream "app" to the app
// server's address. It returns the derived keys with the source of the key
// they follow from, for messages.
func (f *File) derive(root *node) map[string]string {
	derived := map[string]string{}
	runDirSrc := "built-in defaults"
	if n := root.at("run_dir"); n != nil {
		runDirSrc = n.src
	}
	listenSrc := runDirSrc
	if !root.has("appserver", "listen") {
		f.Appserver.Listen = "unix:" + filepath.Join(f.RunDir, "app.sock")
		derived["appserver.listen"] = runDirSrc + " (appserver.listen follows run_dir)"
	} else {
		listenSrc = root.at("appserver.listen").src
	}
	f.Edge.TLSDir = filepath.Join(f.RunDir, "tls") // tls: internal's CA
	if len(f.Edge.Servers) > 0 && !root.has("edge", "locations") {
		// The built-in location / → app is the site of a configuration
		// without servers; with servers, only the given ones serve, and
		// one of them may be the default.
		f.Edge.Locations = nil
		derived["edge.locations"] = root.at("edge.servers").src + " (edge.locations follows edge.servers)"
	}
	f.AdminGiven = root.has("admin")
	if !root.has("admin", "socket") {
		f.Admin.Socket = filepath.Join(f.RunDir, "admin.sock")
		derived["admin.socket"] = runDirSrc + " (admin.socket follows run_dir)"
	}
	if u, ok := f.Edge.Upstreams[defaultUpstream]; ok && !root.has("edge", "upstreams", defaultUpstream, "servers") {
		if !root.has("edge", "upstreams", defaultUpstream, "protocol") {
			u.Protocol = f.Appserver.Protocol // the default upstream speaks what the app server speaks
		}
		u.Servers = []string{f.Appserver.Listen}
		if u.Protocol != f.Appserver.Protocol {
			u.Servers = nil // the app server speaks another protocol: this upstream names its own servers
		}
		f.Edge.Upstreams[defaultUpstream] = u
		derived["edge.upstreams."+defaultUpstream+".servers"] = listenSrc + " (edge.upstreams.app.servers follows appserver.listen)"
		if n := root.at("edge.upstreams." + defaultUpstream + ".protocol"); u.Protocol != "uwsgi" && n != nil {
			derived["edge.upstreams."+defaultUpstream+".servers"] = n.src
		}
		derived["edge.upstreams."+defaultUpstream+".servers[0]"] = derived["edge.upstreams."+defaultUpstream+".servers"]
	}
	return derived
}

// defaultUpstream is the upstream whose servers default to the app
// server's address.
const defaultUpstream = "app"

// Error lists the problems found in a configuration.
type Error struct {
	// Source is the file's path, or "built-in defaults".
	Source string
	// Problems each start with where the bad value was written.
	Problems []string
	// Warnings would not have stopped the stack (File.Warnings).
	Warnings []string
}

func (e *Error) Error() string {
	var b strings.Builder
	head := e.Source
	if head == "built-in defaults" {
		head = "configuration" // the problems come from variables or flags
	}
	fmt.Fprintf(&b, "%s: %d problem(s):", head, len(e.Problems))
	for _, p := range e.Problems {
		fmt.Fprintf(&b, "\n  %s", p)
	}
	for _, w := range e.Warnings {
		fmt.Fprintf(&b, "\n  warning: %s", w)
	}
	return b.String()
}

// YAML renders the configuration as stack.yaml would hold it.
// Secrets (a key whose name says key, secret, password, token, ... as
// Django's debug views decide) are printed as a row of stars, so that the
// output can be pasted into a bug report; showSecrets prints them.
func (f *File) YAML(showSecrets bool) ([]byte, error) {
	e := &encoder{}
	n := e.encode(reflect.ValueOf(*f))
	if !showSecrets {
		e.redact(n)
	}
	return yaml.Marshal(n)
}

func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}
