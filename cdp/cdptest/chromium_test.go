package cdptest

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

func TestStartServesJSONVersion(t *testing.T) {
	c := StartT(t, Options{})
	if c.Port == 0 || !strings.HasPrefix(c.WebSocketURL, "ws://127.0.0.1:") {
		t.Fatalf("unexpected endpoints: port %d ws %q", c.Port, c.WebSocketURL)
	}
	resp, err := http.Get(c.URL + "/json/list")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var targets []struct {
		Type string `json:"type"`
		URL  string `json:"url"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&targets); err != nil {
		t.Fatal(err)
	}
	pages := 0
	for _, tg := range targets {
		if tg.Type == "page" {
			pages++
		}
	}
	if pages != 1 {
		t.Fatalf("want one page target at start, got %+v", targets)
	}
	c.Close()
	select {
	case <-c.Exited():
	default:
		t.Fatal("chromium still running after Close")
	}
}
