package memtrim

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
	"syscall"
)

// dropText unmaps, from this process only, the pages of its own binary
// that it maps read-only (code, read-only data, the function tables): they
// stay in the page cache, shared, and a page the process uses again is
// mapped back on its next touch (a minor fault, no I/O). Start-up and a
// busy spell map most of a 36 MB binary, most of it code run once
// (package initialisation, configuration, the app's build) or mapped only
// because the kernel maps the neighbours of a page it faults in; an idle
// process then holds only what it really runs. Writable mappings are
// never touched (MADV_DONTNEED would zero them).
func dropText() {
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return
	}
	maps, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		return
	}
	sc := bufio.NewScanner(bytes.NewReader(maps))
	for sc.Scan() {
		// start-end perms offset dev inode path
		f := bytes.Fields(sc.Bytes())
		if len(f) < 6 || string(f[5]) != exe || bytes.IndexByte(f[1], 'w') >= 0 || f[1][3] != 'p' {
			continue
		}
		lo, hi, ok := bytes.Cut(f[0], []byte("-"))
		if !ok {
			continue
		}
		start, err1 := strconv.ParseUint(string(lo), 16, 64)
		end, err2 := strconv.ParseUint(string(hi), 16, 64)
		if err1 != nil || err2 != nil || end <= start {
			continue
		}
		syscall.Syscall(syscall.SYS_MADVISE, uintptr(start), uintptr(end-start), syscall.MADV_DONTNEED)
	}
}
