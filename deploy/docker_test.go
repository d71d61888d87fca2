// Package deploy holds the image's configuration, stack.docker.yaml, and
// the test that keeps it within what `docker stop` allows.
package deploy

import (
	"os"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// dockerStopTimeout is how long a plain `docker stop` (and `docker
// compose down`, and a Swarm service) waits after SIGTERM before SIGKILL.
const dockerStopTimeout = 10 * time.Second

// TestDockerShutdownBeforeDockerKills: the image's stack must end its
// graceful stop, a request held in flight included, before a plain
// `docker stop` kills it. With shutdown_timeout equal to docker's 10 s the
// two race (measured 10.4 s for docker stop with a slow upload in flight),
// and a lost race is exit 137 instead of 0. One second more is counted for
// what follows the deadline (children told to stop, then SIGKILLed 1 s
// later) and the exit.
func TestDockerShutdownBeforeDockerKills(t *testing.T) {
	b, err := os.ReadFile("stack.docker.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		ShutdownTimeout string `yaml:"shutdown_timeout"`
	}
	if err := yaml.Unmarshal(b, &f); err != nil {
		t.Fatalf("stack.docker.yaml: %v", err)
	}
	shutdown, err := time.ParseDuration(f.ShutdownTimeout)
	if err != nil {
		t.Fatalf("stack.docker.yaml: shutdown_timeout: %v", err)
	}
	need := shutdown + 2*time.Second
	t.Logf("shutdown_timeout %s (+2s to finish) vs docker stop's %s", shutdown, dockerStopTimeout)
	if need > dockerStopTimeout {
		t.Errorf("shutdown_timeout %s + 2s > docker stop's default %s: a request in flight makes docker SIGKILL the stack (exit 137)", shutdown, dockerStopTimeout)
	}
}
