package prefork

import (
	"fmt"
	"os"
	"slices"
)

// A worker's configuration is the one its master's process holds, not
// the file on disk: a respawn (after a crash, a harakiri, max_requests,
// cheaper mode) must not pick up a file edited or broken without a
// reload. Master.Inherit gives each worker that configuration's
// descriptor (internal/heldconfig); it is asked before every start, so a
// reload's configuration reaches the workers started after it, and the
// master closes the files once the worker has them.

// inheritFD is the first descriptor of Inherit's files in a worker, after
// the listening socket and the control channel.
const inheritFD = workerControlFD + 1

// inherit asks Inherit, if set, for a new worker's files.
func (m *Master) inherit() ([]*os.File, []string, error) {
	if m.Inherit == nil {
		return nil, nil, nil
	}
	return m.Inherit(inheritFD)
}

// filesForSpawnLocked is a new worker's descriptor 3 and the files after
// its control channel, with the environment naming them: the listening
// socket, or before Start a placeholder and the mark that makes the
// worker wait for it (listenerForSpawnLocked), then Inherit's. m.mu is
// held.
func (m *Master) filesForSpawnLocked() (*os.File, []*os.File, []string, error) {
	lf, env, err := m.listenerForSpawnLocked()
	if err != nil {
		return nil, nil, nil, err
	}
	files, more, err := m.inherit()
	if err != nil {
		if lf != m.lf {
			lf.Close()
		}
		return nil, nil, nil, fmt.Errorf("appserver: starting a worker: %w", err)
	}
	return lf, files, append(slices.Clip(env), more...), nil
}

func closeFiles(files []*os.File) {
	for _, f := range files {
		f.Close()
	}
}
