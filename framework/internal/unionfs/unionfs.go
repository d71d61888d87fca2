// Package unionfs merges several fs.FS into one read-only fs.FS, the first
// that has a name winning, as Django's AppDirectoriesFinder merges the
// installed apps' static folders. It stands alone because it is a plain
// io/fs file system with no knowledge of HTTP or of the framework: the
// framework serves it in debug and `stack collectstatic` copies it.
package unionfs

import (
	"errors"
	"io"
	"io/fs"
	"slices"
	"strings"
	"time"
)

// FS merges file systems, as Django's AppDirectoriesFinder merges the
// apps' static folders: a name is looked up in each in order and the
// first that has it wins; a directory lists the union of its entries.
type FS []fs.FS

var _ fs.ReadDirFS = FS(nil)

// Open opens name in the first FS that has it; a directory found there is
// opened as the union of that directory in every FS.
func (u FS) Open(name string) (fs.File, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrInvalid}
	}
	for _, f := range u {
		file, err := f.Open(name)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		fi, err := file.Stat()
		if err != nil {
			file.Close()
			return nil, err
		}
		if !fi.IsDir() {
			return file, nil
		}
		file.Close()
		entries, err := u.ReadDir(name)
		if err != nil {
			return nil, err
		}
		return &dir{info: fi, entries: entries}, nil
	}
	if name == "." {
		return &dir{info: rootInfo{}}, nil // no app has static files
	}
	return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
}

// ReadDir lists name's entries in every FS, the first of each name winning,
// sorted by name.
func (u FS) ReadDir(name string) ([]fs.DirEntry, error) {
	var out []fs.DirEntry
	seen := map[string]bool{}
	found := false
	for _, f := range u {
		entries, err := fs.ReadDir(f, name)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		found = true
		for _, e := range entries {
			if !seen[e.Name()] {
				seen[e.Name()] = true
				out = append(out, e)
			}
		}
	}
	if !found && name != "." {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: fs.ErrNotExist}
	}
	slices.SortFunc(out, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return out, nil
}

// rootInfo describes the empty root of an FS of nothing.
type rootInfo struct{}

func (rootInfo) Name() string       { return "." }
func (rootInfo) Size() int64        { return 0 }
func (rootInfo) Mode() fs.FileMode  { return fs.ModeDir | 0o555 }
func (rootInfo) ModTime() time.Time { return time.Time{} }
func (rootInfo) IsDir() bool        { return true }
func (rootInfo) Sys() any           { return nil }

// dir is an opened directory of a FS.
type dir struct {
	info    fs.FileInfo
	entries []fs.DirEntry
	off     int
}

func (d *dir) Stat() (fs.FileInfo, error) { return d.info, nil }
func (d *dir) Close() error               { return nil }
func (d *dir) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: d.info.Name(), Err: errors.New("is a directory")}
}

func (d *dir) ReadDir(n int) ([]fs.DirEntry, error) {
	rest := d.entries[d.off:]
	if n <= 0 {
		d.off = len(d.entries)
		return rest, nil
	}
	if len(rest) == 0 {
		return nil, io.EOF
	}
	n = min(n, len(rest))
	d.off += n
	return rest[:n], nil
}
