//go:build unix

package goazure

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// childEnv makes the test binary, started again by TestSignalHandsOver, run a server instead of
// the tests, so that the signal goes to a process of its own.
const childEnv = "GOAZURE_TEST_SIGNAL_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		runSignalChild()
		return
	}
	os.Exit(m.Run())
}

// runSignalChild serves "/slow", which takes 300 ms, prints the address it listens on, and exits
// 0 only after a complete hand-over.
func runSignalChild() {
	mux := http.NewServeMux()
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(300 * time.Millisecond)
		w.Write([]byte("slow"))
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	err := ListenAndServe(context.Background(), srv,
		WithPort(0), WithDrainTimeout(5*time.Second),
		func(c *config) {
			c.onListen = func(a net.Addr) { os.Stdout.WriteString("listening " + a.String() + "\n") }
		})
	if err != nil {
		os.Stdout.WriteString("error " + err.Error() + "\n")
		os.Exit(2)
	}
	os.Stdout.WriteString("returned\n")
	os.Exit(0)
}

func TestSignalHandsOver(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), childEnv+"=1", "HTTP_PLATFORM_PORT=", "HOME="+t.TempDir())
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer cmd.Process.Kill()
			lines := bufio.NewScanner(out)
			var addr string
			for lines.Scan() {
				if a, ok := strings.CutPrefix(lines.Text(), "listening "); ok {
					addr = a
					break
				}
			}
			if addr == "" {
				t.Fatal("the child never said where it listens")
			}
			slow := make(chan result, 1)
			go func() { slow <- get(addr, "/slow") }()
			time.Sleep(100 * time.Millisecond) // the request is in flight
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			if got := <-slow; got.err != nil || got.status != 200 || got.body != "slow" {
				t.Fatalf("the request in flight at the signal: %+v, want 200 slow", got)
			}
			var rest strings.Builder
			for lines.Scan() {
				rest.WriteString(lines.Text() + "\n")
			}
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			select {
			case err := <-exited:
				if err != nil || !strings.Contains(rest.String(), "returned") {
					t.Fatalf("the child ended with %v after printing:\n%s", err, rest.String())
				}
			case <-time.After(5 * time.Second):
				t.Fatal("the child did not exit after the signal")
			}
		})
	}
}
