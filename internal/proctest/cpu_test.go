package proctest

import (
	"os"
	"testing"
	"time"
)

func TestCPUTime(t *testing.T) {
	before, err := CPUTime(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	// Burn CPU until the kernel's 10 ms tick has counted some of it.
	deadline := time.Now().Add(10 * time.Second)
	for x := 0; ; x++ {
		if x%1_000_000 == 0 {
			now, err := CPUTime(os.Getpid())
			if err != nil {
				t.Fatal(err)
			}
			if now > before {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("CPU time stayed at %s after 10 s of work", now)
			}
		}
	}
	if _, err := CPUTime(-1); err == nil {
		t.Error("CPUTime(-1): no error")
	}
}
