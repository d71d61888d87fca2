package bench

import (
	"os"
	"runtime"
	"strconv"
	"strings"
)

// clockTick is USER_HZ, the unit of /proc/PID/stat's times (100 on Linux
// everywhere).
const clockTick = 100

// treeUsage is the CPU time (user + system, of the live processes and of
// the children they have reaped) and resident memory of a process and all
// its descendants, from /proc. A CGI program that ran and was reaped
// counts in its parent's reaped-children time, so a fork-per-request
// server is charged for its children.
type treeUsage struct {
	cpuTicks int64
	rssBytes int64
	procs    int
	syscalls int64 // read and write system calls of the live processes (/proc/PID/io)
}

// usage reads the tree rooted at pid.
func usage(pid int) treeUsage {
	children := map[int][]int{}
	stats := map[int][]string{}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		f := procStat(p)
		if len(f) < 24 {
			continue
		}
		stats[p] = f
		ppid, _ := strconv.Atoi(f[1])
		children[ppid] = append(children[ppid], p)
	}
	var u treeUsage
	page := int64(os.Getpagesize())
	queue := []int{pid}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		f, ok := stats[p]
		if !ok {
			continue
		}
		u.procs++
		for _, i := range []int{11, 12, 13, 14} { // utime stime cutime cstime, after the comm field
			v, _ := strconv.ParseInt(f[i], 10, 64)
			u.cpuTicks += v
		}
		rss, _ := strconv.ParseInt(f[21], 10, 64)
		u.rssBytes += rss * page
		u.syscalls += procSyscalls(p)
		queue = append(queue, children[p]...)
	}
	return u
}

// procStat returns /proc/PID/stat's fields after the command name (so
// index 0 is the state, 1 the parent's pid, 11 utime, 21 rss).
func procStat(pid int) []string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return nil
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return nil
	}
	return strings.Fields(s[i+1:])
}

// procSyscalls returns the read and write system calls (syscr + syscw) a
// process has made, from /proc/PID/io; 0 where it cannot be read.
func procSyscalls(pid int) int64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/io")
	if err != nil {
		return 0
	}
	var n int64
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ": ")
		if ok && (k == "syscr" || k == "syscw") {
			x, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			n += x
		}
	}
	return n
}

// numCPU is the machine's CPU count, for the report.
func numCPU() int { return runtime.NumCPU() }
