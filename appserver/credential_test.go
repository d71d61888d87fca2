package appserver

import (
	"os/user"
	"strconv"
	"strings"
	"testing"
)

// appserver.user and group take numeric ids as uWSGI's uid= and gid= do:
// a container image often has no user database entry for the uid it runs
// its server as.
func TestLookupCredentialTakesNumericIDs(t *testing.T) {
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Fatalf("this test needs the user nobody: %v", err)
	}
	nobodyGID, _ := strconv.ParseUint(nobody.Gid, 10, 32)
	for _, c := range []struct {
		user, group string
		uid, gid    uint32
		err         string
	}{
		{user: nobody.Uid, uid: 65534, gid: uint32(nobodyGID)},   // numeric with an entry: its primary group
		{user: "nobody", group: "54322", uid: 65534, gid: 54322}, // a numeric group needs no entry
		{user: "54321", group: "54322", uid: 54321, gid: 54322},  // no entry: the group given
		{user: "54321", err: "set appserver.group too"},          // no entry and no group
		{user: "no-such-user-here", err: "appserver.user: user: unknown user"},
		{user: "nobody", group: "no-such-group-here", err: "appserver.group: group: unknown group"},
	} {
		cred, err := LookupCredential(c.user, c.group)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("LookupCredential(%q, %q) = %v, %v; want an error with %q", c.user, c.group, cred, err, c.err)
			}
			continue
		}
		if err != nil || cred.Uid != c.uid || cred.Gid != c.gid || len(cred.Groups) != 1 || cred.Groups[0] != c.gid {
			t.Errorf("LookupCredential(%q, %q) = %+v, %v; want uid %d gid %d, groups [%d]", c.user, c.group, cred, err, c.uid, c.gid, c.gid)
		}
	}
}
