// Command swapapp is the app the swap benchmark (bench/swap.ts) switches again and again: it
// answers like the example app (/ and /slow?ms=N with its version and commit), and hands over
// with goazure or, for comparison, with one of the baselines in baseline.go, chosen by
// GO_AZURE_BENCH_BASELINE.
package main

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/go-azure-deploy/go-azure-deploy/goazure"
)

// Stamped with -X at build time.
var (
	version = "dev"
	commit  = "none"
)

func main() {
	srv := &http.Server{Handler: routes(), ReadHeaderTimeout: 10 * time.Second}
	opts := []goazure.Option{
		goazure.WithPollInterval(durationEnv("EXAMPLE_POLL_MS", goazure.DefaultPollInterval)),
		goazure.WithDrainTimeout(durationEnv("EXAMPLE_DRAIN_MS", goazure.DefaultDrainTimeout)),
		goazure.WithRedirectWhileDraining(os.Getenv("EXAMPLE_REDIRECT_WHILE_DRAINING") == "1"),
	}
	var err error
	if baseline := os.Getenv("GO_AZURE_BENCH_BASELINE"); baseline != "" {
		err = runBaseline(baseline, srv, opts)
	} else {
		err = goazure.ListenAndServe(context.Background(), srv, opts...)
	}
	if err != nil {
		log.Fatal(err)
	}
}

// routes answers every request with the version, after ?ms= milliseconds on /slow: the
// benchmark's workload B keeps such slow requests in flight during a hand-over.
func routes() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			ms, err := strconv.Atoi(r.URL.Query().Get("ms"))
			if err != nil || ms < 0 || ms > 60_000 {
				http.Error(w, "ms must be a number of milliseconds from 0 to 60000", http.StatusBadRequest)
				return
			}
			select {
			case <-time.After(time.Duration(ms) * time.Millisecond):
			case <-r.Context().Done():
				return
			}
		}
		fmt.Fprintf(w, "%s %s\n", version, commit)
	})
}

// durationEnv reads a number of milliseconds from the environment.
func durationEnv(name string, fallback time.Duration) time.Duration {
	ms, err := strconv.Atoi(os.Getenv(name))
	if err != nil || ms <= 0 {
		return fallback
	}
	return time.Duration(ms) * time.Millisecond
}
