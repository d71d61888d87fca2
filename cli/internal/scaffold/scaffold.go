// Package scaffold is `stack new`, Django's startproject: it renders the
// project template embedded here (a site on the framework with its
// stack.yaml, Dockerfile, go.mod and tests) into a new directory and runs
// go mod tidy in it. It stands alone because it is a code generator that
// serves nothing and reads no configuration: its only inputs are the flags
// and the template tree, which lives beside it.
package scaffold

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"text/template"

	"github.com/spf13/cobra"
	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"
)

// newProject is the tree `stack new` writes, as Django's startproject
// template: every file ends in .tmpl (so that the Go tool sees no package
// or module in it) and is a text/template with [[ ]] delimiters (the
// pages' own {{ }} are html/template's, left as they are); a directory
// named NAME is renamed to the project's name, gitignore to .gitignore.
//
//go:embed all:newproject
var newProject embed.FS

// modulePath is this module's path, which a new project requires.
const modulePath = "github.com/stack-web/stack"

// projectName is what an app name may be: a config key (lower case) and a
// valid directory, module and template name.
var projectName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z][a-z0-9_]*$`) }) // for `stack new` only

// goRefuses says why the go command would not build a main module of
// path modPath that CheckImportPath accepts, or "": "go" and "toolchain"
// are its toolchain modules ("invalid module path" reading go.mod), "all",
// "cmd", "std", "tool" and "work" its package patterns (main.go's import
// of MODULE/app "is not an importable package"), and a "vendor" element
// makes that import vendored ("must be imported as app"). Each left a
// project that no go command could build (break-it 15).
func goRefuses(modPath string) string {
	switch modPath {
	case "go", "toolchain":
		return "the go command's own toolchain module"
	case "all", "cmd", "std", "tool", "work":
		return "a package pattern of the go command"
	}
	if slices.Contains(strings.Split(modPath, "/"), "vendor") {
		return "a vendor element makes its packages vendored ones"
	}
	return ""
}

// project is what the templates are rendered with.
type project struct {
	Name         string // the app's name, appserver.app
	Upper        string // NAME in STACK_APPS_NAME_* variables
	Module       string // the project's module path
	StackVersion string // the version of this module it requires
	StackPath    string // --stack-path: a replace directive to this checkout
}

// Command is `stack new NAME`, writing its result to stdout and go mod
// tidy's output to stderr.
func Command(stdout, stderr io.Writer) *cobra.Command {
	var dir, modPath, stackPath string
	var noTidy bool
	cmd := &cobra.Command{
		Use:   "new NAME",
		Short: "Create a project: a site on the framework with its stack.yaml, Dockerfile and tests (Django's startproject)",
		Long: `new writes a project in ./NAME (or --dir): main.go registering one app built
with the framework (urls, views, templates with a base layout, static CSS, a
model on database/sql with its migration), go.mod requiring this module,
stack.yaml (debug on), a Dockerfile, .gitignore, README.md and tests, then
runs go mod tidy in it. Then: cd NAME && go run . up

--stack-path DIR adds a replace directive to that checkout of stack, to
build against it instead of the published module.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			if !projectName().MatchString(name) {
				return fmt.Errorf("new: %q is not a project name: use lower-case letters, digits and _, starting with a letter (it is the app's name in stack.yaml)", name)
			}
			if dir == "" {
				dir = name
			}
			if modPath == "" {
				modPath = name
			}
			// Checked before anything is written: a path go.mod cannot
			// hold would leave a project that no go command can read.
			if err := module.CheckImportPath(modPath); err != nil {
				return fmt.Errorf("new: --module %q is not a Go module path: %w", modPath, err)
			}
			if why := goRefuses(modPath); why != "" {
				return fmt.Errorf("new: %q cannot be the module path (%s): give another with --module, as --module example.com/%s", modPath, why, name)
			}
			p := project{Name: name, Upper: strings.ToUpper(name), Module: modPath, StackVersion: stackVersion()}
			if stackPath != "" {
				abs, err := filepath.Abs(stackPath)
				if err != nil {
					return fmt.Errorf("new: --stack-path: %w", err)
				}
				if _, err := os.Stat(filepath.Join(abs, "go.mod")); err != nil {
					return fmt.Errorf("new: --stack-path %s: not a checkout of stack: %w", stackPath, err)
				}
				// Quoted when go.mod needs it (a space in the path).
				p.StackPath = modfile.AutoQuote(abs)
			}
			if err := writeProject(dir, p); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "stack: created %s in %s (module %s)\n", name, dir, modPath)
			switch {
			case p.StackPath == "" && p.StackVersion == "v0.0.0":
				// A development build has no version to require: the
				// user picks the published one.
				fmt.Fprintf(stdout, "stack: this stack binary is a development build; in %s run:\n  go get %s@latest && go mod tidy\n", dir, modulePath)
			case !noTidy:
				tidy := exec.Command("go", "mod", "tidy")
				tidy.Dir = dir
				tidy.Stdout, tidy.Stderr = stderr, stderr
				if err := tidy.Run(); err != nil {
					return fmt.Errorf("new: go mod tidy in %s: %w (the files are written; run it there yourself)", dir, err)
				}
			}
			fmt.Fprintf(stdout, "\n  cd %s && go run . up\n", dir)
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "", "directory to create (default ./NAME); it must not exist or be empty")
	cmd.Flags().StringVar(&modPath, "module", "", "the project's Go module path (default NAME)")
	cmd.Flags().StringVar(&stackPath, "stack-path", "", "a checkout of stack to build against (adds a replace directive to go.mod)")
	cmd.Flags().BoolVar(&noTidy, "no-tidy", false, "do not run go mod tidy")
	return cmd
}

// writeProject renders the template tree into dir, which must not exist
// or be empty: nothing of the user's is overwritten.
func writeProject(dir string, p project) error {
	if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		return fmt.Errorf("new: %s exists and is not empty", dir)
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("new: %w", err)
	}
	return fs.WalkDir(newProject, "newproject", func(src string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel := strings.TrimPrefix(strings.TrimPrefix(src, "newproject"), "/")
		parts := strings.Split(rel, "/")
		for i, part := range parts {
			switch part {
			case "NAME":
				parts[i] = p.Name
			case "gitignore.tmpl":
				parts[i] = ".gitignore.tmpl"
			}
		}
		dst := filepath.Join(dir, filepath.FromSlash(strings.TrimSuffix(path.Join(parts...), ".tmpl")))
		if d.IsDir() {
			if err := os.MkdirAll(dst, 0o755); err != nil {
				return fmt.Errorf("new: %w", err)
			}
			return nil
		}
		text, err := newProject.ReadFile(src)
		if err != nil {
			return err
		}
		t, err := template.New(rel).Delims("[[", "]]").Option("missingkey=error").Parse(string(text))
		if err != nil {
			return fmt.Errorf("new: template %s: %w", rel, err)
		}
		var out bytes.Buffer
		if err := t.Execute(&out, p); err != nil {
			return fmt.Errorf("new: template %s: %w", rel, err)
		}
		if err := os.WriteFile(dst, out.Bytes(), 0o644); err != nil {
			return fmt.Errorf("new: %w", err)
		}
		return nil
	})
}

// stackVersion is the version of this module the running binary was built
// from, for the new project's require line: a released version when it
// has one (go install ...@v1.2.3, or a program requiring it), else v0.0.0.
func stackVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "v0.0.0"
	}
	if bi.Main.Path == modulePath && strings.HasPrefix(bi.Main.Version, "v") {
		return bi.Main.Version
	}
	for _, m := range bi.Deps {
		if m.Path == modulePath && strings.HasPrefix(m.Version, "v") {
			return m.Version
		}
	}
	return "v0.0.0"
}
