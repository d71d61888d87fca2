package cli

import "os"

// inheritBoth is a tier child's supervisor.Process.Inherit: the sockets
// this process holds for it (sockets, held.go), then the configuration
// it holds (heldCfg), which the child loads rather than the file.
func (c *cmdEnv) inheritBoth(sockets func(firstFD int) ([]*os.File, []string, error)) func(int) ([]*os.File, []string, error) {
	return func(firstFD int) ([]*os.File, []string, error) {
		files, env, err := sockets(firstFD)
		if err != nil {
			return nil, nil, err
		}
		more, moreEnv, err := c.heldCfg.Inherit(firstFD + len(files))
		if err != nil {
			closeFiles(files)
			return nil, nil, err
		}
		return append(files, more...), append(env, moreEnv...), nil
	}
}
