package appserver

import (
	"strings"
	"testing"
	"time"
)

func TestConfigValidateWorkers(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Config)
		want string // "" for valid
	}{
		{"defaults", func(c *Config) {}, ""},
		{"workers", func(c *Config) {
			c.Processes, c.MinProcesses, c.MaxRequests, c.MaxLifetime, c.ReloadOnRSS = 4, 2, 100, time.Hour, 512
			c.Stats, c.QueueTimeout = "127.0.0.1:9191", 5*time.Second
		}, ""},
		{"negative processes", func(c *Config) { c.Processes = -1 }, "appserver.processes"},
		{"min above processes", func(c *Config) { c.Processes, c.MinProcesses = 2, 3 }, "appserver.min_processes: 3 is more than processes (2)"},
		{"max_requests in process", func(c *Config) { c.MaxRequests = 100 }, "appserver.max_requests: recycles worker processes"},
		{"max_lifetime in process", func(c *Config) { c.MaxLifetime = time.Hour }, "appserver.max_lifetime"},
		{"reload_on_rss negative", func(c *Config) { c.Processes, c.ReloadOnRSS = 1, -1 }, "appserver.reload_on_rss"},
		{"backlog", func(c *Config) { c.ListenBacklog = 0 }, "appserver.listen_backlog: 0 is outside"},
		{"queue_timeout", func(c *Config) { c.QueueTimeout = -time.Second }, "appserver.queue_timeout"},
		{"ready timeout", func(c *Config) { c.WorkerReadyTimeout = 0 }, "appserver.worker_ready_timeout"},
		{"stats address", func(c *Config) { c.Processes, c.Stats = 1, "nowhere" }, `appserver.stats: "nowhere" is neither`},
		{"stats in process", func(c *Config) { c.Stats = "unix:run/stats.sock" }, "appserver.stats: reports worker processes"},
		{"user in process", func(c *Config) { c.User = "nobody" }, "appserver.user"},
		{"unknown user", func(c *Config) { c.Processes, c.User = 2, "no-such-user-x" }, "appserver.user: user: unknown user no-such-user-x"},
		{"unknown group", func(c *Config) { c.Processes, c.Group = 2, "no-such-group-x" }, "appserver.group: group: unknown group no-such-group-x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			tt.edit(&c)
			err := c.Validate()
			if err != nil && strings.Count(err.Error(), "appserver.") > 1 {
				t.Errorf("one mistake, several errors: %v", err)
			}
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("unexpected error: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}
