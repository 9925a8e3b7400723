package exitcode

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/codrive/codrive/cdp"
	"github.com/codrive/codrive/neko"
	"github.com/codrive/codrive/neko/nekotest"
)

// The errors come from the real clients: a wrong password against
// nekotest, a port nothing listens on.
func TestFor(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	srv := nekotest.NewServer(nekotest.Options{AdminPassword: "admin", UserPassword: "neko"})
	defer srv.Close()
	c, err := neko.NewClient(srv.URL, neko.Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, wrongPassword := c.Login(ctx, "codrive", "s3cr3t-pw")
	down, err := neko.NewClient("http://127.0.0.1:1", neko.Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, nekoDown := down.Login(ctx, "codrive", "admin")
	_, cdpDown := cdp.GetVersion(ctx, "http://127.0.0.1:1")
	user, err := neko.NewClient(srv.URL, neko.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := user.Login(ctx, "alice", "neko"); err != nil {
		t.Fatal(err)
	}
	notAdmin := user.TakeControl(ctx)
	// neko's address given as Chromium's, and the reverse.
	_, cdpIsNeko := cdp.GetVersion(ctx, srv.URL)
	cdpAsNeko, err := neko.NewClient(srv.URL+"/nowhere", neko.Options{})
	if err != nil {
		t.Fatal(err)
	}
	nekoIsSomethingElse := cdpAsNeko.Health(ctx)
	for _, tc := range []struct {
		name string
		err  error
		want int
	}{
		{"nil", nil, OK},
		{"wrong password", wrongPassword, Auth},
		{"wrapped wrong password", fmt.Errorf("attach: %w", wrongPassword), Auth},
		{"neko down", nekoDown, Unreachable},
		{"chromium down", cdpDown, Unreachable},
		{"not admin", notAdmin, Auth},
		{"wrapped not admin", fmt.Errorf("control reset: %w", notAdmin), Auth},
		{"neko where chromium should be", cdpIsNeko, Unreachable},
		{"something else where neko should be", nekoIsSomethingElse, Unreachable},
		{"anything else", errors.New("boom"), Failure},
	} {
		if got := For(tc.err); got != tc.want {
			t.Errorf("%s (%v): exit %d, want %d", tc.name, tc.err, got, tc.want)
		}
	}
}

// The table is the one the README and --help print; codes are distinct and
// in order.
func TestTable(t *testing.T) {
	for i, c := range Table() {
		if c.Code != i || c.Meaning == "" {
			t.Fatalf("row %d: %+v", i, c)
		}
	}
	if Table()[Timeout].Code != 5 {
		t.Fatal("the handoff timeout is not 5")
	}
}
