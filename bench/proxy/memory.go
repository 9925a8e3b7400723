package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gorilla/websocket"
)

// memory sends one 300 MB frame and asks for one 50 MB result through the
// proxy, then follows codrive's resident memory for 10 s.
func memory(ctx context.Context, name string, cd *codriveProc, pageWS string) error {
	pid := cd.cmd.Process.Pid
	// One acting command first: codrive takes control back if it released
	// it for idleness meanwhile, so the big messages meet an open gate.
	warm, err := dial(pageWS)
	if err != nil {
		return err
	}
	_, err = warm.call("Runtime.evaluate", "", `{"expression":"globalThis.m=1"}`)
	warm.close()
	if err != nil {
		return err
	}
	idle, err := rss(pid)
	if err != nil {
		return err
	}
	fmt.Printf("\nmemory, %s: idle RSS %s\n", name, mib(idle))
	peak := idle
	sample := func() {
		if v, err := rss(pid); err == nil && v > peak {
			peak = v
		}
	}
	stopSampling := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			select {
			case <-stopSampling:
				return
			case <-time.After(20 * time.Millisecond):
				sample()
			}
		}
	}()

	// 300 MB in one message (gorilla's client splits it into 1 MiB frames,
	// which is the harder case for a proxy: it cannot refuse at the first
	// frame header).
	big := `{"id":1,"method":"Runtime.evaluate","params":{"expression":"'` + strings.Repeat("x", 300<<20) + `'.length"}}`
	d := websocket.Dialer{WriteBufferSize: 1 << 20}
	c, _, err := d.Dial(pageWS, nil)
	if err != nil {
		return err
	}
	t0 := time.Now()
	werr := c.WriteMessage(websocket.TextMessage, []byte(big))
	big = ""
	_ = c.SetReadDeadline(time.Now().Add(60 * time.Second))
	_, answer, rerr := c.ReadMessage()
	outcome := ""
	var ce *websocket.CloseError
	switch {
	case rerr == nil:
		outcome = "answered " + string(answer[:min(len(answer), 200)])
	case errors.As(rerr, &ce):
		outcome = fmt.Sprintf("closed %d %q", ce.Code, ce.Text)
	default:
		outcome = fmt.Sprintf("write %v, read %v", werr, rerr)
	}
	c.Close()
	fmt.Printf("  300 MB frame: %s (%v)\n", outcome, time.Since(t0).Round(time.Millisecond))

	c2, err := dial(pageWS)
	if err != nil {
		return err
	}
	t0 = time.Now()
	m, err := c2.call("Runtime.evaluate", "", `{"expression":"'x'.repeat(50<<20)","returnByValue":true}`)
	c2.close()
	if err != nil {
		return fmt.Errorf("50 MB result: %w", err)
	}
	fmt.Printf("  50 MB result: %d bytes (%v)\n", len(m), time.Since(t0).Round(time.Millisecond))
	m = nil
	done := time.Now()

	under := time.Duration(-1)
	var last int64
	for time.Since(done) < 10*time.Second {
		if ctx.Err() != nil {
			break
		}
		last, err = rss(pid)
		if err != nil {
			return err
		}
		if under < 0 && last < 2*idle {
			under = time.Since(done)
		}
		time.Sleep(100 * time.Millisecond)
	}
	close(stopSampling)
	<-sampled
	verdict := "never under 2x idle within 10 s"
	if under >= 0 {
		verdict = fmt.Sprintf("under 2x idle %v after the last message", under.Round(100*time.Millisecond))
	}
	fmt.Printf("  RSS peak %s, 10 s later %s (%.2fx idle); %s\n", mib(peak), mib(last), float64(last)/float64(idle), verdict)
	return nil
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }
