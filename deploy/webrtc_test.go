package deploy

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/codrive/codrive/internal/nekoserver"
	"github.com/codrive/codrive/neko"
	"github.com/codrive/codrive/neko/viewer"
)

// muxPort finds a port free for both UDP and TCP, as the pod's one mux
// port is both.
func muxPort(t *testing.T) int {
	t.Helper()
	for range 50 {
		ln, err := net.Listen("tcp", "0.0.0.0:0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		pc, err := net.ListenPacket("udp", fmt.Sprintf("0.0.0.0:%d", port))
		ln.Close()
		if err == nil {
			pc.Close()
			return port
		}
	}
	t.Fatal("no port free for both UDP and TCP")
	return 0
}

// The base's WebRTC choice, on the real neko v3.1.5: with the single-port
// UDP and TCP muxes (the variables the Deployment sets), neko binds that one
// port for every viewer, and a viewer joins and receives video.
func TestWebRTCMuxOnRealNeko(t *testing.T) {
	t.Parallel()
	nekoserver.Require(t, nekoserver.KindNeko)
	m := build(t)
	nekoC := container(t, m.deployment.Spec.Template.Spec.Containers, "neko")
	port := muxPort(t)
	var extra []string
	for _, name := range []string{"NEKO_WEBRTC_UDPMUX", "NEKO_WEBRTC_TCPMUX"} {
		if _, ok := env(nekoC, name); !ok {
			t.Fatalf("the Deployment no longer sets %s", name)
		}
		extra = append(extra, fmt.Sprintf("%s=%d", name, port))
	}
	srv := nekoserver.Start(t, nekoserver.KindNeko, nekoserver.Options{Env: extra})

	// neko holds the mux port from its start: nothing else can bind it.
	if ln, err := net.Listen("tcp", fmt.Sprintf("0.0.0.0:%d", port)); err == nil {
		ln.Close()
		t.Fatalf("neko does not listen on its TCP mux port %d; its log:\n%s", port, srv.Log())
	}
	for _, mux := range []string{"udpmux", "tcpmux"} {
		if !strings.Contains(srv.Log(), fmt.Sprintf("%s=%d", mux, port)) {
			t.Errorf("neko's \"webrtc starting\" line does not show %s=%d:\n%s", mux, port, srv.Log())
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := neko.NewClient(srv.URL(), neko.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Login(ctx, "viewer", nekoserver.UserPassword); err != nil {
		t.Fatal(err)
	}
	v, err := viewer.Join(ctx, c, viewer.Options{})
	if err != nil {
		t.Fatalf("a viewer joins through the muxes: %v\nneko's log:\n%s", err, srv.Log())
	}
	defer v.Close()
	st, err := v.WaitFrames(ctx, 10)
	if err != nil {
		t.Fatalf("video through the muxes: %v (%+v)\nneko's log:\n%s", err, st, srv.Log())
	}
}
