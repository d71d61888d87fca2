package appserver

import (
	"fmt"
	"os"
	"os/user"
	"strconv"
	"syscall"
)

// workerCredential resolves appserver.user and group into the credential
// the workers are started with (nil when both are empty). Switching needs
// the master to run as root; the socket was created by the master before,
// and a worker accepts on its inherited descriptor, so the socket file's
// owner and mode (what the edge needs) do not change.
func workerCredential(userName, groupName string) (*syscall.Credential, error) {
	if userName == "" && groupName == "" {
		return nil, nil
	}
	if os.Getuid() != 0 {
		return nil, fmt.Errorf("appserver.user/group: switching the workers to %q/%q needs the master to start as root (it runs as uid %d)", userName, groupName, os.Getuid())
	}
	return lookupCredential(userName, groupName)
}

// lookupCredential resolves user and group names to ids. Configuration
// validation uses it alone: a worker, already switched, validates the
// same configuration without being root.
func lookupCredential(userName, groupName string) (*syscall.Credential, error) {
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
