package fleet_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/codrive/codrive/fleet"
)

func TestParseRoom(t *testing.T) {
	t.Parallel()
	r, err := fleet.ParseRoom(" checkout = http://10.0.0.5:8081/ ")
	if err != nil || r.Name != "checkout" || r.URL != "http://10.0.0.5:8081" {
		t.Fatalf("%+v %v", r, err)
	}
	r, err = fleet.ParseRoom("b=https://proxy.example/rooms/b/")
	if err != nil || r.URL != "https://proxy.example/rooms/b" {
		t.Fatalf("a path prefix is kept: %+v %v", r, err)
	}
	for _, c := range []struct{ in, says string }{
		{"checkout", "NAME=URL"},
		{"=http://a:1", "name is empty"},
		{"a b=http://a:1", "no spaces"},
		{"a=ftp://a:1", "not an http(s) URL"},
		{"a=10.0.0.5:8081", "not an http(s) URL"},
		{"a=http://a:1/?token=s3cret", "never in the URL"},
		{"a=http://user:s3cret@a:1", "never in the URL"},
		{strings.Repeat("n", 41) + "=http://a:1", "longer than"},
	} {
		_, err := fleet.ParseRoom(c.in)
		if err == nil || !strings.Contains(err.Error(), c.says) {
			t.Errorf("%q: %v, want an error saying %q", c.in, err, c.says)
		}
		if err != nil && strings.Contains(err.Error(), "s3cret") {
			t.Errorf("%q: the error shows the secret: %v", c.in, err)
		}
	}
	rooms, err := fleet.ParseRooms("a=http://a:1, b=http://b:2\n c=http://c:3")
	if err != nil || len(rooms) != 3 || rooms[2].Name != "c" {
		t.Fatalf("%+v %v", rooms, err)
	}
	if err := fleet.CheckRooms(append(rooms, rooms[0])); err == nil || !strings.Contains(err.Error(), "named twice") {
		t.Fatalf("duplicate: %v", err)
	}
	if err := fleet.CheckRooms(nil); err == nil || !strings.Contains(err.Error(), fleet.EnvRooms) {
		t.Fatalf("no rooms: %v", err)
	}
}

func write(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRoomsFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write(t, dir, "checkout.token", "tok-checkout\n")
	write(t, dir, "all.token", "tok-all")
	path := write(t, dir, "rooms.yaml", `
tokenFile: all.token
rooms:
  - name: checkout
    url: http://10.0.0.5:8081
    tokenFile: checkout.token
  - name: search
    url: http://10.0.0.6:8081
`)
	rooms, err := fleet.LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(rooms) != 2 || rooms[0].TokenFile != filepath.Join(dir, "checkout.token") || rooms[1].TokenFile != filepath.Join(dir, "all.token") {
		t.Fatalf("%+v", rooms)
	}
	if rooms[0].HasToken() {
		t.Fatal("a token before LoadTokens")
	}
	if err := fleet.LoadTokens(rooms, ""); err != nil {
		t.Fatal(err)
	}
	if !rooms[0].HasToken() || !rooms[1].HasToken() {
		t.Fatalf("tokens not read: %+v", rooms)
	}

	// token_file is tokenFile's other spelling.
	path = write(t, dir, "snake.yaml", "token_file: all.token\nrooms:\n  - name: a\n    url: http://a:1\n    token_file: checkout.token\n  - name: b\n    url: http://b:1\n")
	rooms, err = fleet.LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if rooms[0].TokenFile != filepath.Join(dir, "checkout.token") || rooms[1].TokenFile != filepath.Join(dir, "all.token") {
		t.Fatalf("token_file: %+v", rooms)
	}

	for _, c := range []struct{ yaml, says string }{
		{"", "empty"},
		{"rooms:\n  - name: a\n    url: http://a:1\n    tokenFile: x\n    token_file: y", "entry 1: tokenFile and token_file both given"},
		{"tokenFile: x\ntoken_file: y\nrooms:\n  - name: a\n    url: http://a:1", "both given"},
		{"rooms: []", "no rooms"},
		{"rooms:\n  - name: a\n    url: http://a:1\n    tokenfile: x", "field tokenfile not found"},
		{"rooms:\n  - name: a\n    url: nonsense", "entry 1"},
		{"- a", "cannot unmarshal"},
	} {
		p := write(t, t.TempDir(), "rooms.yaml", c.yaml)
		if _, err := fleet.LoadFile(p); err == nil || !strings.Contains(err.Error(), c.says) {
			t.Errorf("%q: %v, want %q", c.yaml, err, c.says)
		}
	}
	if _, err := fleet.LoadFile(filepath.Join(dir, "missing.yaml")); err == nil || !strings.Contains(err.Error(), "rooms file") {
		t.Errorf("missing file: %v", err)
	}
}

func TestLoadTokens(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	good := write(t, dir, "good", "s3cret-token\n")
	for _, c := range []struct{ content, says string }{
		{"", "empty"},
		{"two\nlines", "more than one line"},
		{strings.Repeat("x", 5000), "larger than"},
	} {
		p := write(t, t.TempDir(), "tok", c.content)
		rooms := []fleet.Room{{Name: "a", URL: "http://a:1"}}
		err := fleet.LoadTokens(rooms, p)
		if err == nil || !strings.Contains(err.Error(), c.says) {
			t.Errorf("%q: %v, want %q", c.content, err, c.says)
		}
		if err != nil && strings.Contains(err.Error(), "two") {
			t.Errorf("the error shows the file's content: %v", err)
		}
	}
	rooms := []fleet.Room{{Name: "a", URL: "http://a:1"}, {Name: "b", URL: "http://b:1", TokenFile: filepath.Join(dir, "nope")}}
	if err := fleet.LoadTokens(rooms, good); err == nil || !strings.Contains(err.Error(), "room b") {
		t.Fatalf("missing token file: %v", err)
	}
	rooms = []fleet.Room{{Name: "a", URL: "http://a:1"}}
	if err := fleet.LoadTokens(rooms, good); err != nil || !rooms[0].HasToken() {
		t.Fatalf("default token file: %v", err)
	}
}
