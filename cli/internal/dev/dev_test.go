package dev

import (
	"testing"

	"github.com/stack-web/stack/devloop"
	"github.com/stack-web/stack/edge"
	"github.com/stack-web/stack/edge/upstream"
	"github.com/stack-web/stack/framework"
)

func TestAppDebug(t *testing.T) {
	type embeds struct {
		framework.Settings
		Title string
	}
	on := framework.DefaultSettings()
	on.Debug = true
	tests := []struct {
		name     string
		settings any
		want     bool
	}{
		{"framework settings, debug", &on, true},
		{"framework settings", &framework.Settings{}, false},
		{"embedding them", &embeds{Settings: on}, true},
		{"no Debug field", &struct{ Title string }{}, false},
		{"Debug not a bool", &struct{ Debug string }{"yes"}, false},
		{"nil pointer", (*framework.Settings)(nil), false},
		{"no settings", nil, false},
	}
	for _, tt := range tests {
		if got := appDebug(tt.settings); got != tt.want {
			t.Errorf("%s: appDebug = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// The location dev adds is one the edge accepts, and it comes first.
func TestAddDevLocation(t *testing.T) {
	cfg := edge.DefaultConfig()
	cfg.Locations = []edge.LocationConfig{{Path: "/", Upstream: "app"}}
	app := upstream.Default()
	app.Servers = []string{"unix:run/app.sock"}
	cfg.Upstreams = map[string]upstream.Config{"app": app}
	addDevLocation(&cfg, "/tmp/x/dev.sock")
	if err := cfg.Validate(); err != nil {
		t.Fatalf("the edge refuses dev's location: %v", err)
	}
	if l := cfg.Locations[0]; l.Path != devloop.Prefix || l.Upstream != devUpstream || l.Buffering == nil || *l.Buffering {
		t.Errorf("first location = %+v, want %s unbuffered to %s", l, devloop.Prefix, devUpstream)
	}
}

// With virtual hosts, every server gets dev's location, and a default
// server does not gain an implicit twin from edge.locations.
func TestAddDevLocationToEveryServer(t *testing.T) {
	cfg := edge.DefaultConfig()
	app := upstream.Default()
	app.Servers = []string{"unix:run/app.sock"}
	cfg.Upstreams = map[string]upstream.Config{"app": app}
	cfg.Servers = []edge.ServerConfig{
		{Names: []string{"a.test"}, Locations: []edge.LocationConfig{{Path: "/", Upstream: "app"}}},
		{Default: true, Locations: []edge.LocationConfig{{Path: "/", Upstream: "app"}}},
	}
	addDevLocation(&cfg, "/tmp/x/dev.sock")
	if err := cfg.Validate(); err != nil {
		t.Fatalf("the edge refuses dev's locations: %v", err)
	}
	if len(cfg.Locations) != 0 {
		t.Errorf("edge.locations = %+v, want none beside a default server", cfg.Locations)
	}
	for i, s := range cfg.Servers {
		if len(s.Locations) != 2 || s.Locations[0].Path != devloop.Prefix {
			t.Errorf("servers[%d].locations = %+v, want dev's first", i, s.Locations)
		}
	}
}
