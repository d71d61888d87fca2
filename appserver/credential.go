package appserver

import (
	"fmt"
	"os"
	"os/user"
	"strconv"
	"syscall"
)

// LookupCredential resolves appserver.user and group names to the
// credential a worker process runs with. Config.Validate uses it alone (a
// worker, already switched, validates the same configuration without being
// root); the prefork master uses it to start its workers.
func LookupCredential(userName, groupName string) (*syscall.Credential, error) {
	cred := &syscall.Credential{Uid: uint32(os.Getuid()), Gid: uint32(os.Getgid())}
	if userName != "" {
		u, err := user.Lookup(userName)
		if err != nil {
			return nil, fmt.Errorf("appserver.user: %w", err)
		}
		uid, _ := strconv.ParseUint(u.Uid, 10, 32)
		gid, _ := strconv.ParseUint(u.Gid, 10, 32)
		cred.Uid, cred.Gid = uint32(uid), uint32(gid)
	}
	if groupName != "" {
		g, err := user.LookupGroup(groupName)
		if err != nil {
			return nil, fmt.Errorf("appserver.group: %w", err)
		}
		gid, _ := strconv.ParseUint(g.Gid, 10, 32)
		cred.Gid = uint32(gid)
	}
	cred.Groups = []uint32{cred.Gid} // drop root's supplementary groups
	return cred, nil
}
