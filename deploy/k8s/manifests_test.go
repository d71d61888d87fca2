// Package k8s holds the Kubernetes manifests of deploy/k8s and their test:
// each manifest is decoded strictly into the k8s.io/api types (an unknown
// or misspelt field fails), and its probes, ports, volume mounts and
// termination timings are checked against the stack.yaml its ConfigMap
// holds, read by this repository's config package as `stack` reads it.
package k8s

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"

	"github.com/stack-web/stack/config"
	"github.com/stack-web/stack/examples/polls"
)

// manifests is one file's objects, by kind and name.
type manifests struct {
	configMaps  map[string]*corev1.ConfigMap
	deployments map[string]*appsv1.Deployment
	services    map[string]*corev1.Service
	policies    map[string]*networkingv1.NetworkPolicy
}

// decodeFile splits a multi-document YAML file and decodes each document
// strictly into the type its kind names.
func decodeFile(t *testing.T, path string) manifests {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m := manifests{map[string]*corev1.ConfigMap{}, map[string]*appsv1.Deployment{}, map[string]*corev1.Service{}, map[string]*networkingv1.NetworkPolicy{}}
	for i, doc := range bytes.Split(data, []byte("\n---\n")) {
		var head struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
		}
		if err := yaml.Unmarshal(doc, &head); err != nil {
			t.Fatalf("%s: document %d: %v", path, i, err)
		}
		var obj any
		switch head.APIVersion + " " + head.Kind {
		case "v1 ConfigMap":
			obj = &corev1.ConfigMap{}
		case "apps/v1 Deployment":
			obj = &appsv1.Deployment{}
		case "v1 Service":
			obj = &corev1.Service{}
		case "networking.k8s.io/v1 NetworkPolicy":
			obj = &networkingv1.NetworkPolicy{}
		default:
			t.Fatalf("%s: document %d: unexpected %q %q", path, i, head.APIVersion, head.Kind)
		}
		if err := yaml.UnmarshalStrict(doc, obj); err != nil {
			t.Fatalf("%s: document %d (%s): strict decoding: %v", path, i, head.Kind, err)
		}
		switch o := obj.(type) {
		case *corev1.ConfigMap:
			m.configMaps[o.Name] = o
		case *appsv1.Deployment:
			m.deployments[o.Name] = o
		case *corev1.Service:
			m.services[o.Name] = o
		case *networkingv1.NetworkPolicy:
			m.policies[o.Name] = o
		}
	}
	return m
}

// containerConfig loads the stack.yaml a container reads (its -c file from
// a ConfigMap volume) with its --set flags and environment, as the stack
// binary in that container would, plus the image's own environment, and
// validates it as that command does before it starts. The image's /app is
// laid out under a temporary root (the collected static files, the
// emptyDir mount point), so that the checks of the machine (run_dir
// creatable, static root present, socket paths) run for real; the paths
// in the returned configuration are mapped back to the pod's.
func containerConfig(t *testing.T, m manifests, pod corev1.PodSpec, c corev1.Container, tier string) *config.File {
	t.Helper()
	var cfgPath string
	var sets []string
	for i := 0; i < len(c.Args); i++ {
		switch c.Args[i] {
		case "-c", "--config":
			i++
			cfgPath = c.Args[i]
		case "--set":
			i++
			sets = append(sets, c.Args[i])
		}
	}
	if len(c.Args) == 0 || c.Args[0] != tier {
		t.Fatalf("container %s: args %q do not run `stack %s`", c.Name, c.Args, tier)
	}
	if cfgPath == "" {
		t.Fatalf("container %s: no -c FILE in its args %q", c.Name, c.Args)
	}
	// The file must come from a ConfigMap volume mounted where -c reads it.
	var data string
	for _, vm := range c.VolumeMounts {
		if filepath.Dir(cfgPath) != filepath.Clean(vm.MountPath) {
			continue
		}
		for _, v := range pod.Volumes {
			if v.Name == vm.Name && v.ConfigMap != nil {
				cm := m.configMaps[v.ConfigMap.Name]
				if cm == nil {
					t.Fatalf("container %s: volume %s names ConfigMap %q, not in the file", c.Name, v.Name, v.ConfigMap.Name)
				}
				data = cm.Data[filepath.Base(cfgPath)]
			}
		}
	}
	if data == "" {
		t.Fatalf("container %s: -c %s is not a key of a ConfigMap mounted at %s", c.Name, cfgPath, filepath.Dir(cfgPath))
	}
	root := t.TempDir()
	for _, d := range []string{"app/static", "app/var"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// An emptyDir is made 0777: the stack's run_dir must be a directory
	// of its own inside it, not the mount itself.
	if err := os.Chmod(filepath.Join(root, "app/var"), 0o777); err != nil {
		t.Fatal(err)
	}
	toHost := strings.NewReplacer("/app/", root+"/app/")
	file := filepath.Join(root, "stack.yaml")
	if err := os.WriteFile(file, []byte(toHost.Replace(data)), 0o644); err != nil {
		t.Fatal(err)
	}
	for i := range sets {
		sets[i] = toHost.Replace(sets[i])
	}
	// Only the container's environment: none of this test's own STACK_*
	// (or a previous container's); t.Setenv restores them afterwards.
	for _, kv := range os.Environ() {
		if k, v, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "STACK_") {
			t.Setenv(k, v)
			os.Unsetenv(k)
		}
	}
	// The image's ENV (Dockerfile), then the container's; a value from a
	// Secret stands in as a placeholder.
	t.Setenv("STACK_EDGE_LISTEN", "0.0.0.0:8000")
	t.Setenv("STACK_APPS_POLLS_DEBUG", "false")
	for _, e := range c.Env {
		v := e.Value
		if e.ValueFrom != nil {
			v = "from-a-secret"
		}
		t.Setenv(e.Name, v)
	}
	f, err := config.Load(config.Options{
		Path: file,
		Set:  sets,
		Apps: map[string]func() any{"polls": func() any {
			s := polls.DefaultSettings()
			return &s
		}},
		Scope: tier,
	})
	if err != nil {
		t.Fatalf("container %s: its stack.yaml, as `stack %s` reads it: %v", c.Name, tier, err)
	}
	toPod := func(s string) string { return strings.ReplaceAll(s, root+"/app/", "/app/") }
	f.RunDir = toPod(f.RunDir)
	f.Admin.Socket = toPod(f.Admin.Socket)
	f.Appserver.Listen = toPod(f.Appserver.Listen)
	for i := range f.Edge.Locations {
		f.Edge.Locations[i].Root = toPod(f.Edge.Locations[i].Root)
	}
	for name, u := range f.Edge.Upstreams {
		for i := range u.Servers {
			u.Servers[i] = toPod(u.Servers[i])
		}
		f.Edge.Upstreams[name] = u
	}
	return f
}

// port resolves a probe's or Service's port (a number or a name) on c.
func port(t *testing.T, c corev1.Container, p intstr.IntOrString) int32 {
	t.Helper()
	if p.Type == intstr.Int {
		return p.IntVal
	}
	for _, cp := range c.Ports {
		if cp.Name == p.StrVal {
			return cp.ContainerPort
		}
	}
	t.Fatalf("container %s has no port named %q", c.Name, p.StrVal)
	return 0
}

// listenPort checks that addr listens on every interface of the pod (the
// kubelet and the Service reach the pod's IP) and returns its port.
func listenPort(t *testing.T, key, addr string) int32 {
	t.Helper()
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("%s %q: %v", key, addr, err)
	}
	if host != "" && host != "0.0.0.0" && host != "::" {
		t.Errorf("%s %q listens on %s only: the kubelet and the Service reach the pod's IP; use 0.0.0.0", key, addr, host)
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		t.Fatalf("%s %q: %v", key, addr, err)
	}
	return int32(n)
}

func hasPort(c corev1.Container, n int32) bool {
	for _, cp := range c.Ports {
		if cp.ContainerPort == n {
			return true
		}
	}
	return false
}

// checkContainer checks what one container's stack.yaml and manifest must
// agree on, and returns its preStop sleep.
func checkContainer(t *testing.T, f *config.File, pod corev1.PodSpec, c corev1.Container, tier string) time.Duration {
	t.Helper()
	if !f.AdminGiven || f.Admin.Listen == "" {
		t.Fatalf("container %s: `stack %s` opens the admin only when an admin key is set; the probes need admin.listen", c.Name, tier)
	}
	admin := listenPort(t, c.Name+": admin.listen", f.Admin.Listen)
	for what, probe := range map[string]*corev1.Probe{"/readyz": c.ReadinessProbe, "/healthz": c.LivenessProbe} {
		if probe == nil || probe.HTTPGet == nil {
			t.Errorf("container %s: no HTTP probe on %s", c.Name, what)
			continue
		}
		if probe.HTTPGet.Path != what {
			t.Errorf("container %s: probe path %q, want %q", c.Name, probe.HTTPGet.Path, what)
		}
		if got := port(t, c, probe.HTTPGet.Port); got != admin {
			t.Errorf("container %s: %s probe on port %d, admin.listen is %s", c.Name, what, got, f.Admin.Listen)
		}
	}
	if !hasPort(c, admin) {
		t.Errorf("container %s: admin port %d is not among its ports", c.Name, admin)
	}
	switch tier {
	case "edge":
		for _, l := range f.Edge.Listen {
			if n := listenPort(t, c.Name+": edge.listen", l); !hasPort(c, n) {
				t.Errorf("container %s: edge.listen %s is not among its ports", c.Name, l)
			}
		}
		for _, loc := range f.Edge.Locations {
			if loc.Root != "" && !strings.HasPrefix(loc.Root, "/app/") {
				t.Errorf("container %s: static root %s is not in the image's /app", c.Name, loc.Root)
			}
		}
	case "appserver":
		if a := f.Appserver.Listen; !strings.HasPrefix(a, "unix:") && !hasPort(c, listenPort(t, c.Name+": appserver.listen", a)) {
			t.Errorf("container %s: appserver.listen %s is not among its ports", c.Name, a)
		}
	}
	// run_dir (the socket, the edge's temporary files, the database) is in
	// a writable volume: the root filesystem is read-only.
	if mountOf(pod, c, f.RunDir) == nil {
		t.Errorf("container %s: run_dir %s is on no writable volume", c.Name, f.RunDir)
	}
	if c.Lifecycle == nil || c.Lifecycle.PreStop == nil || c.Lifecycle.PreStop.Sleep == nil {
		t.Fatalf("container %s: no preStop sleep (the endpoint's removal must reach the nodes before the stack stops accepting)", c.Name)
	}
	return time.Duration(c.Lifecycle.PreStop.Sleep.Seconds) * time.Second
}

// mountOf returns the writable emptyDir volume mount of c holding path.
func mountOf(pod corev1.PodSpec, c corev1.Container, path string) *corev1.VolumeMount {
	for i, vm := range c.VolumeMounts {
		if vm.ReadOnly || !strings.HasPrefix(filepath.Clean(path)+"/", filepath.Clean(vm.MountPath)+"/") {
			continue
		}
		for _, v := range pod.Volumes {
			if v.Name == vm.Name && v.EmptyDir != nil {
				return &c.VolumeMounts[i]
			}
		}
	}
	return nil
}

// checkGrace checks terminationGracePeriodSeconds against the slowest
// container: its preStop, then shutdown_timeout for the drain.
func checkGrace(t *testing.T, d *appsv1.Deployment, preStop, shutdown time.Duration) {
	t.Helper()
	g := d.Spec.Template.Spec.TerminationGracePeriodSeconds
	if g == nil {
		t.Fatalf("%s: no terminationGracePeriodSeconds", d.Name)
	}
	grace := time.Duration(*g) * time.Second
	need := preStop + shutdown
	t.Logf("%s: preStop %s + shutdown_timeout %s = %s, terminationGracePeriodSeconds %s", d.Name, preStop, shutdown, need, grace)
	if grace < need || grace > need+10*time.Second {
		t.Errorf("%s: terminationGracePeriodSeconds %s, want preStop + shutdown_timeout = %s (up to 10s more)", d.Name, grace, need)
	}
}

func container(t *testing.T, d *appsv1.Deployment, name string) corev1.Container {
	t.Helper()
	for _, c := range d.Spec.Template.Spec.Containers {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("%s: no container %q", d.Name, name)
	return corev1.Container{}
}

// checkService checks that a Service selects the Deployment's pods and
// sends its port to one of the container's ports.
func checkService(t *testing.T, s *corev1.Service, d *appsv1.Deployment, c corev1.Container) corev1.ServicePort {
	t.Helper()
	if s == nil {
		t.Fatalf("no Service for %s", d.Name)
	}
	for k, v := range s.Spec.Selector {
		if d.Spec.Template.Labels[k] != v {
			t.Errorf("Service %s selects %s=%s, which %s's pods do not have", s.Name, k, v, d.Name)
		}
	}
	if len(s.Spec.Ports) != 1 {
		t.Fatalf("Service %s: want one port, got %d", s.Name, len(s.Spec.Ports))
	}
	sp := s.Spec.Ports[0]
	if !hasPort(c, port(t, c, sp.TargetPort)) {
		t.Errorf("Service %s: targetPort %s is not a port of %s", s.Name, sp.TargetPort.String(), c.Name)
	}
	return sp
}

// TestSidecarManifests checks deploy/k8s/sidecar.yaml: the edge and the
// app server as two containers of one pod, uwsgi over a Unix socket in a
// shared emptyDir.
func TestSidecarManifests(t *testing.T) {
	m := decodeFile(t, "sidecar.yaml")
	d := m.deployments["stack"]
	if d == nil {
		t.Fatal("no Deployment stack")
	}
	pod := d.Spec.Template.Spec
	edgeC, appC := container(t, d, "edge"), container(t, d, "appserver")
	edgeF := containerConfig(t, m, pod, edgeC, "edge")
	appF := containerConfig(t, m, pod, appC, "appserver")
	edgeStop := checkContainer(t, edgeF, pod, edgeC, "edge")
	appStop := checkContainer(t, appF, pod, appC, "appserver")

	// One socket, in one volume both containers mount at the same place.
	sock, ok := strings.CutPrefix(appF.Appserver.Listen, "unix:")
	if !ok {
		t.Fatalf("appserver.listen %s: want a Unix socket in the shared volume", appF.Appserver.Listen)
	}
	if got := edgeF.Edge.Upstreams["app"].Servers; len(got) != 1 || got[0] != appF.Appserver.Listen {
		t.Errorf("the edge's upstream app is %q, the app server listens on %s", got, appF.Appserver.Listen)
	}
	em, am := mountOf(pod, edgeC, sock), mountOf(pod, appC, sock)
	if em == nil || am == nil || em.Name != am.Name || em.MountPath != am.MountPath {
		t.Errorf("socket %s is not in one emptyDir mounted at the same path in both containers (edge %+v, appserver %+v)", sock, em, am)
	}
	if edgeF.Admin.Listen == appF.Admin.Listen || edgeF.Admin.Socket == appF.Admin.Socket {
		t.Errorf("the two containers share the pod's network and run_dir, but both take admin %s / %s", edgeF.Admin.Listen, edgeF.Admin.Socket)
	}
	if edgeF.ShutdownTimeout != appF.ShutdownTimeout {
		t.Fatalf("shutdown_timeout differs: edge %s, appserver %s", edgeF.ShutdownTimeout, appF.ShutdownTimeout)
	}
	// The app server outlives the edge's drain: SIGTERM reaches it only
	// once the edge has had its preStop and shutdown_timeout.
	if appStop < edgeStop+edgeF.ShutdownTimeout {
		t.Errorf("appserver preStop %s < edge preStop %s + shutdown_timeout %s: it would stop while the edge still drains", appStop, edgeStop, edgeF.ShutdownTimeout)
	}
	checkGrace(t, d, max(edgeStop, appStop), appF.ShutdownTimeout)
	checkService(t, m.services["stack"], d, edgeC)
}

// TestTCPManifests checks deploy/k8s/tcp.yaml: the edge and the app
// servers as two Deployments, uwsgi over TCP through a Service that only
// the edge's pods may reach.
func TestTCPManifests(t *testing.T) {
	m := decodeFile(t, "tcp.yaml")
	ed, ad := m.deployments["stack-edge"], m.deployments["stack-appserver"]
	if ed == nil || ad == nil {
		t.Fatal("want Deployments stack-edge and stack-appserver")
	}
	edgeC, appC := container(t, ed, "edge"), container(t, ad, "appserver")
	edgeF := containerConfig(t, m, ed.Spec.Template.Spec, edgeC, "edge")
	appF := containerConfig(t, m, ad.Spec.Template.Spec, appC, "appserver")
	checkGrace(t, ed, checkContainer(t, edgeF, ed.Spec.Template.Spec, edgeC, "edge"), edgeF.ShutdownTimeout)
	checkGrace(t, ad, checkContainer(t, appF, ad.Spec.Template.Spec, appC, "appserver"), appF.ShutdownTimeout)
	checkService(t, m.services["stack-edge"], ed, edgeC)

	// The edge dials the app servers' Service on the port they listen on.
	sp := checkService(t, m.services["stack-appserver"], ad, appC)
	listen := listenPort(t, "appserver.listen", appF.Appserver.Listen)
	if got := port(t, appC, sp.TargetPort); got != listen {
		t.Errorf("Service stack-appserver sends to %d, appserver.listen is %s", got, appF.Appserver.Listen)
	}
	want := net.JoinHostPort("stack-appserver", strconv.Itoa(int(sp.Port)))
	if got := edgeF.Edge.Upstreams["app"].Servers; len(got) != 1 || got[0] != want {
		t.Errorf("the edge's upstream app is %q, want the Service %s", got, want)
	}

	// uwsgi has no authentication: only the edge's pods reach it.
	np := m.policies["stack-appserver"]
	if np == nil {
		t.Fatal("no NetworkPolicy stack-appserver")
	}
	for k, v := range np.Spec.PodSelector.MatchLabels {
		if ad.Spec.Template.Labels[k] != v {
			t.Errorf("NetworkPolicy selects %s=%s, not the app servers' pods", k, v)
		}
	}
	var guarded bool
	for _, rule := range np.Spec.Ingress {
		for _, p := range rule.Ports {
			if p.Port == nil || p.Port.IntVal != listen {
				continue
			}
			guarded = len(rule.From) > 0
			for _, from := range rule.From {
				if from.PodSelector == nil {
					t.Errorf("port %d is open to %s", listen, fmt.Sprint(from))
					continue
				}
				for k, v := range from.PodSelector.MatchLabels {
					if ed.Spec.Template.Labels[k] != v {
						t.Errorf("port %d is open to pods %s=%s, not the edge's", listen, k, v)
					}
				}
			}
		}
	}
	if !guarded {
		t.Errorf("NetworkPolicy: no rule limits port %d to the edge's pods", listen)
	}
}
