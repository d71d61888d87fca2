//go:build !linux

package memtrim

// dropText is Linux only (/proc/self/maps, madvise).
func dropText() {}
