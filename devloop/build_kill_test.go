package devloop

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// killedBuildEnv names, in the helper process, the directory of the
// project whose build hangs.
const killedBuildEnv = "DEVLOOP_KILLED_BUILD_DIR"

// TestBuildDiesWithItsCaller: a stack dev killed with SIGKILL during a
// build (no cancel, no defer runs) must not leave its go command running,
// nor its work directory beside the binary once the next build ran.
// A helper process (this test re-run) builds with a toolexec that records
// the go command's pid and hangs; the test kills the helper.
func TestBuildDiesWithItsCaller(t *testing.T) {
	if dir := os.Getenv(killedBuildEnv); dir != "" {
		b := &Builder{Dir: dir, Out: filepath.Join(dir, "out", "app"), Flags: []string{"-toolexec", filepath.Join(dir, "toolexec")}}
		b.Build(context.Background()) // hangs until the test kills this process
		return
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.com/tiny\n\ngo 1.22\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\n\nfunc main() { println(1) }\n"), 0o644)
	os.Mkdir(filepath.Join(dir, "out"), 0o755)
	pidFile := filepath.Join(dir, "gopid")
	// $PPID of a tool run through -toolexec is the go command.
	os.WriteFile(filepath.Join(dir, "toolexec"), []byte("#!/bin/sh\necho $PPID > "+pidFile+".tmp && mv "+pidFile+".tmp "+pidFile+"\nexec sleep 120\n"), 0o755)
	helper := exec.Command(os.Args[0], "-test.run=^TestBuildDiesWithItsCaller$")
	helper.Env = append(os.Environ(), killedBuildEnv+"="+dir)
	if err := helper.Start(); err != nil {
		t.Fatal(err)
	}
	defer helper.Process.Kill()
	var goPid int
	for deadline := time.Now().Add(60 * time.Second); goPid == 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the build never ran its first tool")
		}
		b, _ := os.ReadFile(pidFile)
		goPid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
	}
	// The hanging tools are in the go command's group: killed at the end
	// whatever happens.
	defer syscall.Kill(-goPid, syscall.SIGKILL)
	helper.Process.Kill()
	helper.Wait()
	for deadline := time.Now().Add(3 * time.Second); alive(goPid); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("go command %d still runs 3s after its caller was killed", goPid)
		}
	}
	syscall.Kill(-goPid, syscall.SIGKILL)
	b := &Builder{Dir: dir, Out: filepath.Join(dir, "out", "app")}
	if out, err := b.Build(context.Background()); err != nil {
		t.Fatalf("the next build: %v\n%s", err, out)
	}
	left, _ := filepath.Glob(filepath.Join(dir, "out", "gotmp*"))
	if len(left) > 0 {
		t.Errorf("the killed build's work directory is still there after the next build: %v", left)
	}
}

// alive reports whether pid runs (a zombie nobody reaped yet does not).
func alive(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(stat)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}
