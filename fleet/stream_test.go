package fleet

import (
	"bufio"
	"io"
	"strings"
	"testing"

	"github.com/codrive/codrive/codrive"
)

// The event stream's parser against what codrive/operator writes, and
// what an SSE stream may also carry (comments, multi-line data, an event
// kind it does not know, a broken line).
func TestStreamNext(t *testing.T) {
	t.Parallel()
	raw := "retry: 2000\n\n" +
		": codrive is starting: waiting for chromium\n\n" +
		"id: 1\nevent: state\ndata: {\"time\":\"2026-08-15T10:00:00Z\",\"kind\":\"state\",\"reason\":\"subscribed\",\"status\":{\"state\":\"free\",\"gate\":\"waiting\"}}\n\n" +
		": keep-alive\n\n" +
		"event: future\ndata: {\"kind\":\"future\",\n" + "data: \"reason\":\"two lines\",\"status\":{\"state\":\"human\"}}\n\n" +
		"event: state\ndata: {not json\n\n" +
		"event: handoff\ndata: {\"reason\":\"no kind in the data\",\"status\":{\"handoff\":\"captcha\"}}\n\n" +
		": session closed\n\n"
	sc := bufio.NewScanner(strings.NewReader(raw))
	s := &Stream{body: io.NopCloser(strings.NewReader("")), sc: sc}
	alive := 0
	var got []codrive.Event
	for {
		ev, err := s.Next(func() { alive++ })
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, ev)
	}
	if len(got) != 3 {
		t.Fatalf("events %+v", got)
	}
	if got[0].Reason != "subscribed" || got[0].Status.State != codrive.StateFree {
		t.Errorf("first: %+v", got[0])
	}
	if got[1].Kind != "future" || got[1].Reason != "two lines" || got[1].Status.State != codrive.StateHuman {
		t.Errorf("multi-line data: %+v", got[1])
	}
	if got[2].Kind != codrive.EventHandoff || got[2].Status.Handoff != "captcha" {
		t.Errorf("kind from the event line: %+v", got[2])
	}
	if alive < 10 {
		t.Errorf("alive called %d times: comments must count as signs of life", alive)
	}
}
