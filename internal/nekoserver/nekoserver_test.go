package nekoserver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/codrive/codrive/neko"
)

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func health(url string, timeout time.Duration) error {
	c := &http.Client{Timeout: timeout, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get(url + "/health")
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return errors.New(resp.Status)
	}
	return nil
}

// Both kinds start with the image's settings, plugins among them, keep
// their URL over restarts and forget the room each time.
func TestLifecycle(t *testing.T) {
	initial := neko.DefaultSettings()
	initial.ImplicitHosting = true
	initial.Plugins = map[string]any{"x.y": "z"}
	Each(t, Options{Settings: &initial}, func(t *testing.T, srv Server) {
		if got := t.Name(); !strings.HasSuffix(got, "/"+string(srv.Kind())) {
			t.Fatalf("subtest %q runs on %s", got, srv.Kind())
		}
		if (srv.Display() != "") != (srv.Kind() == KindNeko) {
			t.Fatalf("%s has display %q", srv.Kind(), srv.Display())
		}
		ctx := ctxT(t)
		st, err := srv.Settings(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(st, initial) {
			t.Fatalf("initial settings %+v, want %+v", st, initial)
		}
		url := srv.URL()
		on := true
		if err := srv.UpdateSettings(ctx, neko.SettingsPatch{LockedControls: &on}); err != nil {
			t.Fatal(err)
		}
		for _, how := range []Shutdown{Abrupt, Graceful} {
			if err := srv.Restart(ctx, how); err != nil {
				t.Fatalf("restart %v: %v", how, err)
			}
			if srv.URL() != url {
				t.Fatalf("URL changed over a restart: %s -> %s", url, srv.URL())
			}
			st, err := srv.Settings(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(st, initial) {
				t.Fatalf("settings after a %v restart: %+v", how, st)
			}
			sessions, err := srv.Sessions(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(sessions) != 1 || sessions[0].Profile.Name != AdminName {
				t.Fatalf("sessions after a %v restart: %+v", how, sessions)
			}
		}
		if err := srv.Stop(ctx, Abrupt); err != nil {
			t.Fatal(err)
		}
		if health(url, time.Second) == nil {
			t.Fatal("a stopped server answers /health")
		}
		if err := srv.Start(ctx); err != nil {
			t.Fatal(err)
		}
		if err := srv.Start(ctx); err == nil {
			t.Fatal("Start of a running server succeeded")
		}
		if err := health(url, 5*time.Second); err != nil {
			t.Fatal(err)
		}
	})
}

// Pause freezes the server (SIGSTOP on real neko): /health no longer
// answers until Resume.
func TestPause(t *testing.T) {
	Each(t, Options{}, func(t *testing.T, srv Server) {
		if err := srv.Pause(); err != nil {
			t.Fatal(err)
		}
		// A frozen process never answers: any timeout shows it.
		if health(srv.URL(), 500*time.Millisecond) == nil {
			t.Fatal("a paused server answered /health")
		}
		if err := srv.Resume(); err != nil {
			t.Fatal(err)
		}
		if err := health(srv.URL(), 10*time.Second); err != nil {
			t.Fatalf("after Resume: %v", err)
		}
		// Stopping a paused server works too.
		if err := srv.Pause(); err != nil {
			t.Fatal(err)
		}
		if err := srv.Stop(ctxT(t), Abrupt); err != nil {
			t.Fatal(err)
		}
	})
}

func TestNewUnknownKind(t *testing.T) {
	if _, err := New(context.Background(), "mongoose", Options{}); err == nil || !strings.Contains(err.Error(), "unknown kind") {
		t.Fatalf("New(mongoose): %v", err)
	}
}

// Real neko's WebRTC ports: a range nothing holds, and an address a peer on
// this machine reaches (neko/viewer's tests connect through them).
func TestWebRTCPortsAndAddress(t *testing.T) {
	base, err := freeUDPRange(udpPorts)
	if err != nil {
		t.Fatal(err)
	}
	for p := base; p < base+udpPorts; p++ {
		pc, err := net.ListenPacket("udp4", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			t.Fatalf("port %d of the range %d-%d is taken: %v", p, base, base+udpPorts-1, err)
		}
		pc.Close()
	}
	ip := net.ParseIP(iceAddress())
	if ip == nil || ip.To4() == nil {
		t.Fatalf("iceAddress %q is no IPv4 address", iceAddress())
	}
	if !ip.IsLoopback() {
		// It must be one of ours, or no local peer could reach neko.
		pc, err := net.ListenPacket("udp4", ip.String()+":0")
		if err != nil {
			t.Fatalf("iceAddress %s is not an address of this machine: %v", ip, err)
		}
		pc.Close()
	}
}
