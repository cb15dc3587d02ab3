// Command example is the web app the demo and the end-to-end tests deploy: it answers with the
// version and commit stamped into it at build time, and serves through goazure so that each
// deploy hands over without stopping the site.
//
//	go build -ldflags "-X main.version=1.2.3 -X main.commit=0123456789" .
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
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
	logger := slog.New(slog.NewTextHandler(os.Stdout, nil))
	slog.SetDefault(logger)
	srv := &http.Server{Handler: routes(), ReadHeaderTimeout: 10 * time.Second}
	opts := []goazure.Option{
		goazure.WithPollInterval(durationEnv("EXAMPLE_POLL_MS", goazure.DefaultPollInterval)),
		goazure.WithDrainTimeout(durationEnv("EXAMPLE_DRAIN_MS", goazure.DefaultDrainTimeout)),
		goazure.WithRedirectWhileDraining(os.Getenv("EXAMPLE_REDIRECT_WHILE_DRAINING") == "1"),
	}
	// Answers to the deploy's own checks (which carry its identity key) name the binary and, once
	// stamped, the commit (X-Goazure-Commit); other visitors get neither.
	if commit != "none" {
		opts = append(opts, goazure.WithCommit(commit))
	}
	err := goazure.ListenAndServe(context.Background(), srv, opts...)
	if errors.Is(err, goazure.ErrDrainTimeout) {
		log.Print(err) // handed over; requests still running at the drain timeout were cut off
	} else if err != nil {
		log.Fatal(err) // could not listen
	}
}

func routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprintf(w, "%s %s\n", version, commit)
	})
	// /slow?ms=300 answers after the given time, up to a minute: a request still in flight when a
	// new version is switched in, which the hand-over lets finish.
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
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
		fmt.Fprintf(w, "%s %s\n", version, commit)
	})
	// Files shipped with this version (the action's include input), resolved beside the deployed
	// binary, with an ETag from their content: after a deploy, browsers get the new version's
	// files, not their copy of the old ones.
	mux.Handle("/static/", http.StripPrefix("/static/", &goazure.FileServer{Dir: filepath.Join(goazure.AssetDir(), "static")}))
	return mux
}

// durationEnv reads a number of milliseconds from the environment; the tests and the benchmark
// use it to poll faster than a site needs to.
func durationEnv(name string, fallback time.Duration) time.Duration {
	ms, err := strconv.Atoi(os.Getenv(name))
	if err != nil || ms <= 0 {
		return fallback
	}
	return time.Duration(ms) * time.Millisecond
}
