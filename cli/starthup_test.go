package cli

import "testing"

// Main holds SIGHUP from its first line; only the commands that run the
// stack keep holding it (a reload), every other command gets Go's default
// back (the terminal hung up) before it runs.
func TestOnlyTheStackCommandsKeepTheEarlyHangupHold(t *testing.T) {
	root := newRoot(&cmdEnv{})
	for _, tc := range []struct {
		args []string
		want bool
	}{
		{[]string{"up"}, true}, {[]string{"edge"}, true}, {[]string{"appserver"}, true}, {[]string{"dev"}, true},
		{[]string{"check", "up"}, false}, {[]string{"top"}, false}, {[]string{"migrate"}, false}, {[]string{"version"}, false},
	} {
		cmd, _, err := root.Find(tc.args)
		if err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		if got := runsTheStack(cmd); got != tc.want {
			t.Errorf("runsTheStack(%v) = %v, want %v", tc.args, got, tc.want)
		}
	}
}
