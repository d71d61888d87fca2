package prefork

import (
	"fmt"
	"os"
	"syscall"

	"github.com/stack-web/stack/appserver"
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
	return appserver.LookupCredential(userName, groupName)
}
