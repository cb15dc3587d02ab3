package main

// The baselines bench/swap.ts compares goazure's hand-over against, selected by
// GO_AZURE_BENCH_BASELINE:
//
//   - "original": the scheme this project replaces. Close the listener, then wait until every
//     connection has closed, idle keep-alive connections included, up to a hard cap.
//   - "shutdown": plain http.Server.Shutdown, bounded by the drain timeout.

import (
	"context"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/go-azure-deploy/go-azure-deploy/goazure"
)

func runBaseline(name string, srv *http.Server, opts []goazure.Option) error {
	port := os.Getenv("HTTP_PLATFORM_PORT")
	if port == "" {
		return fmt.Errorf("GO_AZURE_BENCH_BASELINE=%s needs HTTP_PLATFORM_PORT", name)
	}
	var mu sync.Mutex
	open := map[net.Conn]bool{}
	srv.ConnState = func(c net.Conn, s http.ConnState) {
		mu.Lock()
		defer mu.Unlock()
		switch s {
		case http.StateNew:
			open[c] = true
		case http.StateClosed, http.StateHijacked:
			delete(open, c)
		}
	}
	ln, err := net.Listen("tcp4", "127.0.0.1:"+port)
	if err != nil {
		return err
	}
	go srv.Serve(ln)
	next, err := goazure.WaitForSwitch(context.Background(), opts...)
	if err != nil {
		return err
	}
	drain := durationEnv("EXAMPLE_DRAIN_MS", 30*time.Second)
	log.Printf("baseline %s: hand-over to %s", name, next)
	switch name {
	case "original":
		ln.Close()
		deadline := time.Now().Add(drain)
		for time.Now().Before(deadline) {
			mu.Lock()
			n := len(open)
			mu.Unlock()
			if n == 0 {
				return nil
			}
			time.Sleep(10 * time.Millisecond)
		}
		log.Print("baseline original: connections still open at the cap")
		return nil
	case "shutdown":
		ctx, cancel := context.WithTimeout(context.Background(), drain)
		defer cancel()
		return srv.Shutdown(ctx)
	}
	return fmt.Errorf("GO_AZURE_BENCH_BASELINE=%q: want original or shutdown", name)
}
