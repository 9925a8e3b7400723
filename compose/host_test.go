package compose

import (
	"net"
	"slices"
	"testing"
)

// docker-compose.host.yml publishes codrive on the host's loopback, and
// only with a token: codrive then listens beyond neko's loopback.
func TestHostOverride(t *testing.T) {
	t.Parallel()
	base := loadCompose(t)
	o := loadComposeFile(t, hostPath)
	cd, neko := o.Services["codrive"], o.Services["neko"]
	for _, s := range neko.Ports {
		p, err := parsePort(s)
		if err != nil {
			t.Fatal(err)
		}
		if ip := net.ParseIP(p.HostIP); ip == nil || !ip.IsLoopback() {
			t.Errorf("%s: port %q: publish on 127.0.0.1 only", hostPath, s)
		}
		if p.Container == cdpPort(t) {
			t.Errorf("%s publishes Chromium's own port %s: only the gated proxy goes out", hostPath, p.Container)
		}
	}
	if _, err := requiredName(cd.Environment["CODRIVE_TOKEN"]); err != nil {
		t.Errorf("%s CODRIVE_TOKEN: %v", hostPath, err)
	}
	listen := flagValue(cd.Command, "--listen")
	published := func(addr string) bool {
		_, port, err := net.SplitHostPort(addr)
		for _, s := range neko.Ports {
			if p, perr := parsePort(s); err == nil && perr == nil && p.Container == port && p.Host == port {
				return true
			}
		}
		return false
	}
	for what, addr := range map[string]string{"--listen": listen, "CODRIVE_HTTP": cd.Environment["CODRIVE_HTTP"]} {
		host, _, err := net.SplitHostPort(addr)
		if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsUnspecified() {
			t.Errorf("%s codrive %s %q: want 0.0.0.0:PORT, so that the published port reaches it", hostPath, what, addr)
		}
		if !published(addr) {
			t.Errorf("%s codrive %s %q: its port is not published on neko", hostPath, what, addr)
		}
	}
	// The override changes only the listeners: the rest of the command stays.
	strip := func(args []string) []string {
		var out []string
		for i := 0; i < len(args); i++ {
			if args[i] == "--listen" {
				i++
				continue
			}
			out = append(out, args[i])
		}
		return out
	}
	if got, want := strip(cd.Command), strip(base.Services["codrive"].Command); !slices.Equal(got, want) {
		t.Errorf("%s codrive command %q differs from %s's %q beyond --listen", hostPath, cd.Command, composePath, base.Services["codrive"].Command)
	}
}
