package memtrim

import (
	"os"
	"strconv"
	"strings"
	"testing"
)

// exeRSS is the resident size of this process's read-only mappings of its
// own binary, from /proc/self/smaps.
func exeRSS(t *testing.T) (kb int) {
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	in := false
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) >= 5 && strings.Contains(f[0], "-") && len(f[1]) == 4:
			in = len(f) >= 6 && f[5] == exe && !strings.Contains(f[1], "w")
		case in && len(f) >= 2 && f[0] == "Rss:":
			n, _ := strconv.Atoi(f[1])
			kb += n
		}
	}
	return kb
}

// dropText unmaps the binary's read-only pages from this process, which
// runs on (what it touches again comes back from the page cache).
func TestDropText(t *testing.T) {
	before := exeRSS(t)
	dropText()
	after := exeRSS(t)
	t.Logf("the binary's read-only pages mapped: %d kB before, %d kB after", before, after)
	if after >= before {
		t.Errorf("%d kB mapped after dropText, %d kB before", after, before)
	}
	// Code run after the drop still runs.
	if s := strconv.Itoa(12345); s != "12345" {
		t.Errorf("strconv.Itoa after dropText: %q", s)
	}
}
