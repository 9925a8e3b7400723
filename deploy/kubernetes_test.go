package deploy

import (
	"bytes"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	"github.com/codrive/codrive/codrive/operator"
	"github.com/codrive/codrive/internal/deploytest"
)

const base = "kubernetes"

// strict decodes YAML into v: a field the API type does not have (a typo
// such as "readinessprobe") fails instead of vanishing.
func strict(b []byte, v any) error { return yaml.UnmarshalStrict(b, v) }

// manifests is the base as kustomize builds it, every object decoded
// strictly into its API type.
type manifests struct {
	deployment *appsv1.Deployment
	services   map[string]*corev1.Service
	configMaps map[string]*corev1.ConfigMap
}

func build(t *testing.T) manifests {
	t.Helper()
	// The kustomization itself, strictly, as kustomize's own type.
	raw, err := os.ReadFile(filepath.Join(base, "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var k types.Kustomization
	if err := strict(raw, &k); err != nil {
		t.Fatalf("kustomization.yaml: %v", err)
	}
	// Every resource file on its own, before kustomize touches it.
	for _, r := range k.Resources {
		b, err := os.ReadFile(filepath.Join(base, r))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := decode(b); err != nil {
			t.Fatalf("%s: %v", r, err)
		}
	}

	rm, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), base)
	if err != nil {
		t.Fatalf("kustomize build %s: %v", base, err)
	}
	m := manifests{services: map[string]*corev1.Service{}, configMaps: map[string]*corev1.ConfigMap{}}
	for _, res := range rm.Resources() {
		b, err := res.AsYAML()
		if err != nil {
			t.Fatal(err)
		}
		obj, err := decode(b)
		if err != nil {
			t.Fatalf("built %s %s: %v", res.GetKind(), res.GetName(), err)
		}
		switch o := obj.(type) {
		case *appsv1.Deployment:
			if m.deployment != nil {
				t.Fatal("two Deployments in the base")
			}
			m.deployment = o
		case *corev1.Service:
			m.services[o.Name] = o
		case *corev1.ConfigMap:
			m.configMaps[o.Name] = o
		}
	}
	if m.deployment == nil {
		t.Fatal("no Deployment in the base")
	}
	return m
}

// decode reads one object strictly into its API type, by kind.
func decode(b []byte) (any, error) {
	var meta struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
	}
	if err := yaml.Unmarshal(b, &meta); err != nil {
		return nil, err
	}
	var obj any
	switch meta.APIVersion + " " + meta.Kind {
	case "apps/v1 Deployment":
		obj = &appsv1.Deployment{}
	case "v1 Service":
		obj = &corev1.Service{}
	case "v1 ConfigMap":
		obj = &corev1.ConfigMap{}
	default:
		return nil, fmt.Errorf("unexpected %s %s: add it to decode", meta.APIVersion, meta.Kind)
	}
	return obj, strict(b, obj)
}

func container(t *testing.T, cs []corev1.Container, name string) corev1.Container {
	t.Helper()
	for _, c := range cs {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no container %q", name)
	return corev1.Container{}
}

func env(c corev1.Container, name string) (corev1.EnvVar, bool) {
	for _, e := range c.Env {
		if e.Name == name {
			return e, true
		}
	}
	return corev1.EnvVar{}, false
}

func port(c corev1.Container, name string) (corev1.ContainerPort, bool) {
	for _, p := range c.Ports {
		if p.Name == name {
			return p, true
		}
	}
	return corev1.ContainerPort{}, false
}

// The pod: neko's v3.1.5 chromium image, and codrive beside it as a native
// sidecar that shares its localhost.
func TestPodShape(t *testing.T) {
	t.Parallel()
	m := build(t)
	d := m.deployment
	pod := d.Spec.Template.Spec
	if d.Spec.Replicas == nil || *d.Spec.Replicas != 1 || d.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType {
		t.Errorf("replicas %v strategy %q: one room per pod, never two at once (Recreate)", d.Spec.Replicas, d.Spec.Strategy.Type)
	}
	if pod.EnableServiceLinks == nil || *pod.EnableServiceLinks {
		t.Error("enableServiceLinks must be false: neko reads every NEKO_* variable, and service links add some")
	}
	neko := container(t, pod.Containers, "neko")
	if neko.Image != "ghcr.io/m1k1o/neko/chromium:3.1.5" {
		t.Errorf("neko image %q: want ghcr.io/m1k1o/neko/chromium:3.1.5, the release chromium.conf mirrors", neko.Image)
	}
	cd := container(t, pod.InitContainers, "codrive")
	if cd.RestartPolicy == nil || *cd.RestartPolicy != corev1.ContainerRestartPolicyAlways {
		t.Error("codrive must be a native sidecar: an init container with restartPolicy: Always")
	}
	if cd.StartupProbe != nil {
		t.Error("a startup probe on the sidecar holds neko back until codrive is up, and codrive waits for neko: a deadlock")
	}
	if cd.Image != "codrive:dev" {
		t.Errorf("codrive image after kustomize %q: want codrive:dev (kustomization.yaml images)", cd.Image)
	}
	if len(pod.Containers) != 1 || len(pod.InitContainers) != 1 {
		t.Errorf("%d containers, %d init containers: want neko and the codrive sidecar", len(pod.Containers), len(pod.InitContainers))
	}
	for _, c := range append(slices.Clone(pod.Containers), pod.InitContainers...) {
		if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() || c.Resources.Limits.Memory().IsZero() {
			t.Errorf("container %s: want cpu and memory requests and a memory limit, got %v", c.Name, c.Resources)
		}
	}

	// Chromium needs a large /dev/shm.
	shm := false
	for _, vm := range neko.VolumeMounts {
		for _, v := range pod.Volumes {
			if v.Name == vm.Name && vm.MountPath == "/dev/shm" && v.EmptyDir != nil && v.EmptyDir.Medium == corev1.StorageMediumMemory {
				shm = v.EmptyDir.SizeLimit != nil && v.EmptyDir.SizeLimit.Value() >= 1<<30
			}
		}
	}
	if !shm {
		t.Error("neko has no in-memory /dev/shm of 1Gi or more (Chromium crashes tabs with 64 MB)")
	}

	// codrive runs as the image's user, with nothing more.
	sc := cd.SecurityContext
	if sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || sc.RunAsUser == nil || *sc.RunAsUser != imageUID(t) ||
		sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		t.Errorf("codrive securityContext %+v: want non-root as the image's user %d, no escalation, a read-only root", sc, imageUID(t))
	}
}

// Names, ports, env and flags agree with the real codrive CLI and with each
// other: what codrive dials is what neko and Chromium open; what the probes
// hit is what codrive serves.
func TestSidecarAgreesWithTheCLI(t *testing.T) {
	t.Parallel()
	m := build(t)
	pod := m.deployment.Spec.Template.Spec
	cd := container(t, pod.InitContainers, "codrive")
	neko := container(t, pod.Containers, "neko")
	cli := deploytest.BuildCLI(t)

	args := append(slices.Clone(cd.Command), cd.Args...)
	for _, err := range cli.Check(args) {
		t.Errorf("codrive args %q: %v", args, err)
	}
	if len(args) == 0 || args[0] != "attach" {
		t.Fatalf("codrive args %q: want attach ...", args)
	}
	for _, e := range cd.Env {
		if strings.HasPrefix(e.Name, "CODRIVE_") && !cli.Env[e.Name] {
			t.Errorf("codrive env %s: the CLI reads no such variable", e.Name)
		}
	}
	value := func(name string) string {
		e, ok := env(cd, name)
		if !ok {
			t.Errorf("codrive does not set %s", name)
		}
		return e.Value
	}

	// What codrive dials: neko's http port and Chromium's debugging port,
	// on the pod's loopback.
	nekoPort, ok := port(neko, "http")
	if !ok {
		t.Fatal("neko has no port named http")
	}
	for name, want := range map[string]int{"CODRIVE_NEKO_URL": int(nekoPort.ContainerPort), "CODRIVE_CHROMIUM_URL": debuggingPort(t)} {
		u, err := url.Parse(value(name))
		if err != nil || u.Scheme != "http" || u.Hostname() != "127.0.0.1" || u.Port() != strconv.Itoa(want) {
			t.Errorf("codrive %s %q: want http://127.0.0.1:%d (the pod's loopback)", name, value(name), want)
		}
	}
	if listen, _ := deploytest.FlagValue(args, "--listen"); !loopback(listen) {
		t.Errorf("codrive --listen %q: the CDP proxy stays on the pod's loopback (kubectl port-forward reaches it)", listen)
	}

	// The password comes from the Secret's file, never from the
	// environment, and it is neko's admin password.
	if _, ok := env(cd, "CODRIVE_NEKO_PASSWORD"); ok {
		t.Error("codrive takes its password from CODRIVE_NEKO_PASSWORD: use the Secret mounted as a file (CODRIVE_NEKO_PASSWORD_FILE)")
	}
	file := value("CODRIVE_NEKO_PASSWORD_FILE")
	admin, ok := env(neko, "NEKO_MEMBER_MULTIUSER_ADMIN_PASSWORD")
	if !ok || admin.ValueFrom == nil || admin.ValueFrom.SecretKeyRef == nil {
		t.Fatal("neko's admin password does not come from a Secret")
	}
	ref := admin.ValueFrom.SecretKeyRef
	if !secretFile(pod, cd, file, ref.Name, ref.Key) {
		t.Errorf("CODRIVE_NEKO_PASSWORD_FILE %s is not key %s of Secret %s mounted into codrive: codrive must log in with neko's admin password", file, ref.Key, ref.Name)
	}
	if user, ok := env(neko, "NEKO_MEMBER_MULTIUSER_USER_PASSWORD"); !ok || user.ValueFrom == nil || user.ValueFrom.SecretKeyRef == nil || user.ValueFrom.SecretKeyRef.Key == ref.Key {
		t.Error("neko's user password must come from its own key of the Secret")
	}

	// The operator endpoint: on the pod's address with a token, the probes
	// on it, the Service's operator port to it.
	httpAddr := value("CODRIVE_HTTP")
	tok, ok := env(cd, "CODRIVE_HTTP_TOKEN")
	if !ok || tok.ValueFrom == nil || tok.ValueFrom.SecretKeyRef == nil {
		t.Error("CODRIVE_HTTP_TOKEN must come from the Secret")
	}
	if err := operator.CheckAddr(httpAddr, "from-the-secret"); err != nil {
		t.Errorf("CODRIVE_HTTP %q: %v", httpAddr, err)
	}
	if loopback(httpAddr) {
		t.Errorf("CODRIVE_HTTP %q: kubelet probes the pod's IP, not its loopback", httpAddr)
	}
	_, hp, _ := net.SplitHostPort(httpAddr)
	op, ok := port(cd, "operator")
	if !ok || strconv.Itoa(int(op.ContainerPort)) != hp {
		t.Errorf("codrive's port named operator %v: want containerPort %s (CODRIVE_HTTP)", op, hp)
	}
	for what, p := range map[string]*corev1.Probe{"readinessProbe": cd.ReadinessProbe, "livenessProbe": cd.LivenessProbe} {
		want := map[string]string{"readinessProbe": "/readyz", "livenessProbe": "/healthz"}[what]
		if p == nil || p.HTTPGet == nil || p.HTTPGet.Path != want || p.HTTPGet.Port.String() != "operator" {
			t.Errorf("codrive %s %+v: want GET %s on the operator port", what, p, want)
		}
	}
	for _, e := range cd.Env {
		if e.Name == "CODRIVE_HTTP_TOKEN" || e.Name == "CODRIVE_TOKEN" {
			if e.Value != "" {
				t.Errorf("%s has a literal value: tokens come from the Secret", e.Name)
			}
		}
	}
	if ann := m.deployment.Spec.Template.Annotations; ann["prometheus.io/port"] != hp || ann["prometheus.io/path"] != "/metrics" {
		t.Errorf("prometheus annotations %v: want port %s and /metrics", ann, hp)
	}
}

// secretFile tells whether path in container c is key of Secret name.
func secretFile(pod corev1.PodSpec, c corev1.Container, path, name, key string) bool {
	for _, vm := range c.VolumeMounts {
		rel, ok := strings.CutPrefix(path, strings.TrimSuffix(vm.MountPath, "/")+"/")
		if !ok {
			continue
		}
		for _, v := range pod.Volumes {
			if v.Name != vm.Name || v.Secret == nil || v.Secret.SecretName != name {
				continue
			}
			if len(v.Secret.Items) == 0 {
				return rel == key
			}
			for _, it := range v.Secret.Items {
				if it.Key == key && it.Path == rel {
					return true
				}
			}
		}
	}
	return false
}

// neko's settings are real v3.1.5 configuration names, the WebRTC mux
// ports are the container's and the Service's, and the mounted files are
// compose's, where compose mounts them.
func TestNekoAgreesWithV315(t *testing.T) {
	t.Parallel()
	m := build(t)
	pod := m.deployment.Spec.Template.Spec
	neko := container(t, pod.Containers, "neko")
	names := nekoEnvNames(t)

	vars := map[string]string{}
	for _, e := range neko.Env {
		vars[e.Name] = e.Value
	}
	for _, from := range neko.EnvFrom {
		if from.ConfigMapRef == nil {
			t.Fatalf("neko envFrom %+v: only ConfigMaps", from)
		}
		cm, ok := m.configMaps[from.ConfigMapRef.Name]
		if !ok {
			t.Fatalf("neko envFrom names ConfigMap %q, which the base does not build", from.ConfigMapRef.Name)
		}
		for k, v := range cm.Data {
			vars[k] = v
		}
	}
	for k := range vars {
		if !names[k] {
			t.Errorf("neko env %s: neko v3.1.5 has no such setting (server/internal/config)", k)
		}
	}
	if ip := net.ParseIP(vars["NEKO_WEBRTC_NAT1TO1"]); ip == nil {
		t.Errorf("NEKO_WEBRTC_NAT1TO1 %q: want an address (without one neko looks its public IP up at start)", vars["NEKO_WEBRTC_NAT1TO1"])
	}
	if _, ok := vars["NEKO_WEBRTC_EPR"]; ok {
		t.Error("NEKO_WEBRTC_EPR: one port per connection cannot go through a Service; use the muxes")
	}
	web := m.services["neko-codrive-webrtc"]
	if web == nil {
		t.Fatal("no Service neko-codrive-webrtc")
	}
	for _, mux := range []struct {
		env, port string
		proto     corev1.Protocol
	}{{"NEKO_WEBRTC_UDPMUX", "webrtc-udp", corev1.ProtocolUDP}, {"NEKO_WEBRTC_TCPMUX", "webrtc-tcp", corev1.ProtocolTCP}} {
		p, ok := port(neko, mux.port)
		if !ok || strconv.Itoa(int(p.ContainerPort)) != vars[mux.env] || p.Protocol != mux.proto {
			t.Errorf("%s=%q: want neko's %s port (%s) on the same number, got %+v", mux.env, vars[mux.env], mux.port, mux.proto, p)
		}
		found := false
		for _, sp := range web.Spec.Ports {
			if sp.TargetPort.String() == mux.port && sp.Protocol == mux.proto && sp.Port == p.ContainerPort {
				found = true
			}
		}
		if !found {
			t.Errorf("Service %s does not carry %s %s on port %d (NAT1TO1 announces the port neko listens on)", web.Name, mux.proto, mux.port, p.ContainerPort)
		}
	}

	// The mounted files: compose's, byte for byte, at compose's targets.
	mounted := map[string]string{}
	for _, vm := range neko.VolumeMounts {
		for _, v := range pod.Volumes {
			if v.Name == vm.Name && v.ConfigMap != nil {
				cm, ok := m.configMaps[v.ConfigMap.Name]
				if !ok {
					t.Fatalf("volume %s names ConfigMap %q, which the base does not build", v.Name, v.ConfigMap.Name)
				}
				data, ok := cm.Data[vm.SubPath]
				if !ok {
					t.Fatalf("mount %s: ConfigMap %s has no key %q", vm.MountPath, cm.Name, vm.SubPath)
				}
				mounted[vm.MountPath] = data
			}
		}
	}
	for target, src := range map[string]string{
		"/etc/neko/supervisord/chromium.conf":                "../compose/chromium.conf",
		"/etc/chromium/policies/managed/zz-codrive-cdp.json": "../compose/codrive-cdp.json",
	} {
		want, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if got, ok := mounted[target]; !ok || got != string(want) {
			t.Errorf("%s: not mounted, or not %s byte for byte", target, src)
		}
	}
	for _, f := range []string{"chromium.conf", "codrive-cdp.json"} {
		a, _ := os.ReadFile(filepath.Join(base, f))
		b, _ := os.ReadFile(filepath.Join("..", "compose", f))
		if !bytes.Equal(a, b) {
			t.Errorf("%s/%s differs from compose/%s: kustomize cannot read files outside its folder, so it keeps a copy, which must stay identical", base, f, f)
		}
	}
}

// Services select the pod and reach ports it has, by name.
func TestServices(t *testing.T) {
	t.Parallel()
	m := build(t)
	pod := m.deployment.Spec.Template
	named := map[string]corev1.ContainerPort{}
	for _, c := range append(slices.Clone(pod.Spec.Containers), pod.Spec.InitContainers...) {
		for _, p := range c.Ports {
			named[p.Name] = p
		}
	}
	if len(m.services) != 2 {
		t.Errorf("%d Services: want neko-codrive (http, operator) and neko-codrive-webrtc", len(m.services))
	}
	for _, s := range m.services {
		for k, v := range s.Spec.Selector {
			if pod.Labels[k] != v {
				t.Errorf("Service %s selects %s=%s; the pod has %q", s.Name, k, v, pod.Labels[k])
			}
		}
		if len(s.Spec.Selector) == 0 {
			t.Errorf("Service %s selects nothing", s.Name)
		}
		for _, sp := range s.Spec.Ports {
			p, ok := named[sp.TargetPort.String()]
			if !ok || p.Protocol != sp.Protocol {
				t.Errorf("Service %s port %s: targets %q (%s), which no container has", s.Name, sp.Name, sp.TargetPort.String(), sp.Protocol)
			}
		}
	}
	http := m.services["neko-codrive"]
	if http == nil || http.Spec.Type != corev1.ServiceTypeClusterIP {
		t.Fatal("no ClusterIP Service neko-codrive for neko's HTTP")
	}
	for _, want := range []string{"http", "operator"} {
		if !slices.ContainsFunc(http.Spec.Ports, func(p corev1.ServicePort) bool { return p.Name == want }) {
			t.Errorf("Service neko-codrive has no %s port", want)
		}
	}
}

// nekoEnvNames are the environment variables neko v3.1.5 reads: NEKO_ and
// each flag name its config registers, dots as underscores
// (server/cmd/root.go: SetEnvPrefix("NEKO"), replacer "." → "_").
func nekoEnvNames(t *testing.T) map[string]bool {
	t.Helper()
	dir := filepath.Join(deploytest.NekoSource(t), "server", "internal", "config")
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil || len(files) == 0 {
		t.Fatalf("neko's config sources in %s: %v", dir, err)
	}
	flag := regexp.MustCompile(`Flags\(\)\.[A-Za-z]+\("([a-z0-9_.]+)"`)
	names := map[string]bool{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range flag.FindAllSubmatch(b, -1) {
			names["NEKO_"+strings.ToUpper(strings.ReplaceAll(string(m[1]), ".", "_"))] = true
		}
	}
	for _, must := range []string{"NEKO_WEBRTC_UDPMUX", "NEKO_MEMBER_MULTIUSER_ADMIN_PASSWORD"} {
		if !names[must] {
			t.Fatalf("read %d neko settings from %s, but not %s: the pattern is out of date", len(names), dir, must)
		}
	}
	return names
}

// debuggingPort is the --remote-debugging-port chromium.conf gives Chromium.
func debuggingPort(t *testing.T) int {
	t.Helper()
	prog, err := deploytest.SupervisordProgram(filepath.Join(base, "chromium.conf"), "chromium")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range strings.Fields(prog["command"]) {
		if v, ok := strings.CutPrefix(f, "--remote-debugging-port="); ok {
			n, err := strconv.Atoi(v)
			if err != nil {
				t.Fatalf("chromium.conf: --remote-debugging-port=%s", v)
			}
			return n
		}
	}
	t.Fatal("chromium.conf opens no debugging port")
	return 0
}

func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	ip := net.ParseIP(host)
	return err == nil && ip != nil && ip.IsLoopback()
}
