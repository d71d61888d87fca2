package config

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/stack-web/stack/appserver"
)

// checkWorkerUser says what would stop workers started as appserver.user
// and group: the master not being root (it refuses at start), or a
// binary that user cannot reach. A worker is this binary; one that cannot
// run crash-loops while the master keeps the socket, so every request
// waits and fails. (The configuration file need not be theirs to read:
// a worker loads what its master holds, from an inherited descriptor.)
func (f *File) checkWorkerUser() error {
	a := f.Appserver
	if a.Processes == 0 || (a.User == "" && a.Group == "") {
		return nil
	}
	if os.Geteuid() != 0 {
		return fmt.Errorf("switching the workers to %q/%q needs the master to start as root (it runs as uid %d)", a.User, a.Group, os.Geteuid())
	}
	cred, err := appserver.LookupCredential(a.User, a.Group)
	if err != nil {
		return nil // appserver.Validate says so
	}
	if exe, err := os.Executable(); err == nil {
		if err := credCanReach(cred, exe, 0o1); err != nil {
			return fmt.Errorf("the workers run this binary: %w", err)
		}
	}
	if err := f.checkAppReadsAs(cred); err != nil {
		return err
	}
	return f.CheckAppWritesAs(cred)
}

// checkAppReadsAs says whether cred may read the folders the served app
// reads at start: a worker that cannot read its templates fails its
// start, as one that cannot read the configuration does.
func (f *File) checkAppReadsAs(cred *syscall.Credential) error {
	app := f.Appserver.App
	r, ok := f.Apps[app].(interface{ ReadAtStart() []string })
	if !ok {
		return nil
	}
	for _, d := range r.ReadAtStart() {
		if err := credCanReadTree(cred, d); err != nil {
			return fmt.Errorf("the workers read apps.%s's %s at start: %w", app, d, err)
		}
	}
	return nil
}

// CheckAppWritesAs says whether cred may write the files the served app
// writes from its start (a SQLite database, polls' default in run_dir
// included) and create files beside them (its journal): a worker that
// cannot fails its start, or every write. A database made by root
// (`stack migrate` run by hand) is one cause; the default database is
// another, as run_dir is the master's (0700 when the stack makes it).
// `stack migrate` run by hand as root asks it before it migrates as the
// workers.
func (f *File) CheckAppWritesAs(cred *syscall.Credential) error {
	app := f.Appserver.App
	w, ok := f.Apps[app].(interface {
		WriteAtStart(runDir string) map[string]string
	})
	if !ok {
		return nil
	}
	files := w.WriteAtStart(f.RunDir)
	for _, key := range slices.Sorted(maps.Keys(files)) {
		path := files[key]
		err := credCanWriteFile(cred, path)
		if !within(path, f.RunDir) {
			if err != nil {
				return fmt.Errorf("the workers write apps.%s.%s: %w", app, key, err)
			}
			continue
		}
		if _, serr := os.Stat(f.RunDir); errors.Is(serr, fs.ErrNotExist) && cred.Uid != uint32(os.Geteuid()) {
			// Nothing to look at yet: `up` makes it 0700, the master's.
			err = fmt.Errorf("run_dir %s is made at start with mode 0700, for uid %d only", f.RunDir, os.Geteuid())
		}
		if err != nil {
			// run_dir holds the control and app sockets, so it stays the
			// master's and the database moves out, as a uWSGI user gives
			// Django's SQLite file a folder of the workers' own.
			return fmt.Errorf("the workers write apps.%s.%s (%s, in run_dir): %w; run_dir stays the master's, as it holds the sockets: "+
				"set apps.%s.%s to a file in a folder of the workers' own (e.g. install -d%s -m 0750 /var/lib/stack, then %s: /var/lib/stack/%s)",
				app, key, path, err, app, key, ownerFlags(f.Appserver), key, filepath.Base(path))
		}
	}
	return nil
}

// ownerFlags are install's flags giving a folder to the workers' user and
// group.
func ownerFlags(a appserver.Config) string {
	s := ""
	if a.User != "" {
		s += " -o " + a.User
	}
	if a.Group != "" {
		s += " -g " + a.Group
	}
	return s
}

// within reports whether path is in the folder dir or below it.
func within(path, dir string) bool {
	p, err1 := filepath.Abs(path)
	d, err2 := filepath.Abs(dir)
	return err1 == nil && err2 == nil && strings.HasPrefix(p, d+string(filepath.Separator))
}

// credCanWriteFile reports whether cred may read and write the file path
// and create files in its folder, as SQLite does with its journal
// (-journal, or -wal and -shm, which must be writable too when left
// there). A missing file is created by the app, with its missing
// folders: then the nearest existing folder must be writable. A path
// that is not a regular file is the settings validation's to report.
func credCanWriteFile(cred *syscall.Credential, path string) error {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		dir := filepath.Dir(path)
		for ; dir != filepath.Dir(dir); dir = filepath.Dir(dir) {
			if _, err := os.Stat(dir); err == nil {
				break
			}
		}
		if err := credCanReach(cred, dir, 0o3); err != nil {
			return fmt.Errorf("cannot create %s: %w", path, err)
		}
		return nil
	}
	if err != nil || !fi.Mode().IsRegular() {
		return nil
	}
	if err := credCanReach(cred, path, 0o6); err != nil {
		return err
	}
	beside := filepath.Base(path)
	// SQLite follows a symbolic link to the database and keeps its
	// journal beside the file it points to, not beside the link: the
	// target's folders must be reached and its folder written (a link in
	// a folder of root's to the workers' own file works; a link in the
	// workers' folder to a file in root's does not).
	if real, err := filepath.EvalSymlinks(path); err == nil && real != path {
		if err := credCanReach(cred, real, 0o6); err != nil {
			return fmt.Errorf("%s, which %s links to: %w", real, path, err)
		}
		beside = fmt.Sprintf("%s, which %s links to", filepath.Base(real), path)
		path = real
	}
	for _, journal := range []string{path + "-journal", path + "-wal", path + "-shm"} {
		if _, err := os.Lstat(journal); err == nil {
			if err := credHas(cred, journal, 0o6); err != nil {
				return err
			}
		}
	}
	if err := credHas(cred, filepath.Dir(path), 0o3); err != nil {
		return fmt.Errorf("%w (the journal files are created beside %s)", err, beside)
	}
	return nil
}

// credCanReadTree reports whether cred may read the folder root and
// everything under it as a worker walks it: search and read on each
// folder, read on each file. A missing root is not this check's to
// report (the app's settings validation says so).
func credCanReadTree(cred *syscall.Credential, root string) error {
	if _, err := os.Stat(root); err != nil {
		return nil
	}
	if err := credCanReach(cred, root, 0o4); err != nil {
		return err
	}
	return filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		switch {
		case err != nil:
			return nil // unreadable even for us: the settings validation reports it
		case d.IsDir():
			return credHas(cred, path, 0o5)
		case d.Type().IsRegular() || d.Type()&fs.ModeSymlink != 0:
			return credHas(cred, path, 0o4)
		}
		return nil
	})
}

// credCanReach reports whether a process with cred may resolve path and
// has want (0o4 read, 0o2 write, 0o1 execute, or a sum) on it, by the
// permission bits: search on each directory on the way (from the working
// directory for a relative path) and want on the file.
func credCanReach(cred *syscall.Credential, path string, want fs.FileMode) error {
	dirs := []string{}
	if filepath.IsAbs(path) {
		for d := filepath.Dir(path); ; d = filepath.Dir(d) {
			dirs = append(dirs, d)
			if d == filepath.Dir(d) {
				break
			}
		}
	} else {
		for d := filepath.Dir(path); d != "."; d = filepath.Dir(d) {
			dirs = append(dirs, d)
		}
		dirs = append(dirs, ".")
	}
	for _, d := range dirs {
		if err := credHas(cred, d, 0o1); err != nil {
			return fmt.Errorf("directory %s: %w", d, err)
		}
	}
	return credHas(cred, path, want)
}

// permName words credHas's want for its message.
func permName(want fs.FileMode) string {
	switch want {
	case 0o4:
		return "readable"
	case 0o1:
		return "executable or searchable"
	case 0o5:
		return "readable and searchable"
	case 0o6:
		return "readable and writable"
	case 0o3:
		return "writable and searchable"
	}
	return fmt.Sprintf("%04o", want)
}

// credHas checks one file's bits for cred: the owner's, else the group's,
// else everyone's, as the kernel does. Uid 0 (appserver.group without
// user keeps the workers root) passes them all, as the kernel lets root,
// but to run a file one of its execute bits must be set.
func credHas(cred *syscall.Credential, path string, want fs.FileMode) error {
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return err
	}
	mode := fs.FileMode(st.Mode) & fs.ModePerm
	var bits fs.FileMode
	switch {
	case cred.Uid == 0 && (want&0o1 == 0 || st.Mode&syscall.S_IFMT == syscall.S_IFDIR):
		bits = want
	case cred.Uid == 0:
		bits = want &^ 0o1
		if mode&0o111 != 0 {
			bits = want
		}
	case st.Uid == cred.Uid:
		bits = mode >> 6
	case st.Gid == cred.Gid:
		bits = mode >> 3
	default:
		bits = mode
	}
	if bits&want != want {
		return fmt.Errorf("%s (mode %04o, owner %d:%d) is not %s by uid %d gid %d", path, mode, st.Uid, st.Gid, permName(want), cred.Uid, cred.Gid)
	}
	return nil
}
