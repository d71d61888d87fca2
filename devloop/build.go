package devloop

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
)

// Builder builds the project's program with the go command.
type Builder struct {
	// Dir is the project directory (the module holding the program).
	Dir string
	// Package is the main package to build, "." by default.
	Package string
	// Out is the path of the built binary. A build writes beside it and
	// renames over it only when it succeeded, so Out is always the last
	// good build, and a worker started from it meanwhile runs a whole file.
	Out string
	// Flags are more go build flags, before the package.
	Flags []string
}

// Build runs `go build` and returns its output (the compiler's errors)
// with a non-nil error when it failed. Cancelling ctx kills the go
// command and the compilers it started, so none is left behind.
func (b *Builder) Build(ctx context.Context) ([]byte, error) {
	pkg := b.Package
	if pkg == "" {
		pkg = "."
	}
	tmp := b.Out + ".new"
	args := append(append([]string{"build", "-o", tmp}, b.Flags...), pkg)
	// The go command's work directory goes in one of ours, removed
	// afterwards: a cancelled build is killed, and a killed go command
	// leaves its go-build* directory (objects, the linked binary) in
	// $TMPDIR for good.
	// One a killed stack dev left (SIGKILL: no defer ran) goes first;
	// builds of one Builder run one at a time, so none is in use.
	b.removeWorkDirs()
	work, err := os.MkdirTemp(filepath.Dir(b.Out), "gotmp")
	if err != nil {
		return nil, fmt.Errorf("go build %s: a work directory: %w", pkg, err)
	}
	defer os.RemoveAll(work)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = b.Dir
	cmd.Env = append(os.Environ(), "GOTMPDIR="+work)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	// Its own process group, so that a cancel reaches the compile and
	// link steps too, not only the go command.
	cmd.SysProcAttr = goSysProcAttr()
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	if err := cmd.Run(); err != nil {
		os.Remove(tmp)
		if ctx.Err() != nil {
			return out.Bytes(), ctx.Err()
		}
		return out.Bytes(), fmt.Errorf("go build %s in %s: %w", pkg, b.Dir, err)
	}
	// The build it replaces is kept (a hard link, Out.prev) for Restore:
	// a build can compile and still not run (a panic at init).
	os.Remove(b.Out + ".prev")
	os.Link(b.Out, b.Out+".prev")
	if err := os.Rename(tmp, b.Out); err != nil {
		return out.Bytes(), fmt.Errorf("installing the build: %w", err)
	}
	return out.Bytes(), nil
}

// Restore puts back the build the last Build replaced, when the new one
// turned out not to run: without it a worker that dies later (a crash,
// max_requests) would be respawned from the broken build, in a loop, and
// the site go down while the terminal said the last good build serves.
func (b *Builder) Restore() error {
	if err := os.Rename(b.Out+".prev", b.Out); err != nil {
		return fmt.Errorf("restoring the previous build: %w", err)
	}
	return nil
}

// EmbeddedFiles lists the files that the program's own packages embed
// (//go:embed), absolute: a change to one of them needs a rebuild even
// though it is not Go source. Standard-library packages are left out.
func (b *Builder) EmbeddedFiles(ctx context.Context) (map[string]bool, error) {
	pkg := b.Package
	if pkg == "" {
		pkg = "."
	}
	cmd := exec.CommandContext(ctx, "go", "list", "-deps",
		"-f", `{{if not .Standard}}{{$d := .Dir}}{{range .EmbedFiles}}{{$d}}/{{.}}{{"\n"}}{{end}}{{end}}`, pkg)
	cmd.Dir = b.Dir
	cmd.SysProcAttr = goSysProcAttr()
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list %s: %w", pkg, err)
	}
	files := map[string]bool{}
	for _, line := range strings.Split(string(out), "\n") {
		if line != "" {
			files[filepath.Clean(line)] = true
		}
	}
	return files, nil
}

// goSysProcAttr is how a go command runs: in a process group of its own
// (a cancel kills the group), and killed if stack dev dies. Without
// Pdeathsig a SIGKILLed stack dev left its go build running, an orphan
// that went on writing run_dir/dev/app.new under the next stack dev's
// build. The kernel sends it when the thread that forked exits; Go keeps
// its threads unless a goroutine locked to one ends, and none is here.
// The compile and link steps it had started finish on their own.
func goSysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// removeWorkDirs removes the go command's work directories beside Out.
func (b *Builder) removeWorkDirs() {
	left, _ := filepath.Glob(filepath.Join(filepath.Dir(b.Out), "gotmp*"))
	for _, d := range left {
		os.RemoveAll(d)
	}
}
