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
	if groupName != "" {
		gid, err := lookupGID(groupName)
		if err != nil {
			return nil, fmt.Errorf("appserver.group: %w", err)
		}
		cred.Gid = gid
	}
	if userName != "" {
		uid, gid, err := lookupUID(userName)
		if err != nil {
			return nil, fmt.Errorf("appserver.user: %w", err)
		}
		cred.Uid = uid
		switch {
		case groupName != "": // the group given wins over the user's own
		case gid >= 0:
			cred.Gid = uint32(gid)
		default:
			return nil, fmt.Errorf("appserver.user: uid %s has no entry in the user database to give its group; set appserver.group too", userName)
		}
	}
	cred.Groups = []uint32{cred.Gid} // drop root's supplementary groups
	return cred, nil
}

// lookupUID resolves a user name, or a numeric uid as uWSGI's uid= takes
// one, to the uid and its primary gid. A numeric uid with no entry in the
// user database (a container's image often has none) is used as it is,
// with gid -1: its group must come from appserver.group.
func lookupUID(name string) (uid uint32, gid int64, err error) {
	u, err := user.Lookup(name)
	if err != nil {
		n, perr := strconv.ParseUint(name, 10, 32)
		if perr != nil {
			return 0, 0, err
		}
		if u, err = user.LookupId(name); err != nil {
			return uint32(n), -1, nil
		}
	}
	id, _ := strconv.ParseUint(u.Uid, 10, 32)
	g, _ := strconv.ParseUint(u.Gid, 10, 32)
	return uint32(id), int64(g), nil
}

// lookupGID resolves a group name, or a numeric gid (with or without an
// entry in the group database), to the gid.
func lookupGID(name string) (uint32, error) {
	g, err := user.LookupGroup(name)
	if err != nil {
		n, perr := strconv.ParseUint(name, 10, 32)
		if perr != nil {
			return 0, err
		}
		return uint32(n), nil
	}
	gid, _ := strconv.ParseUint(g.Gid, 10, 32)
	return uint32(gid), nil
}
