package goazure_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/go-azure-deploy/go-azure-deploy/goazure"
)

// An app serves its handler through ListenAndServe and exits when it returns: after a deploy
// has switched _artifact.txt to a new binary, or after SIGINT or SIGTERM.
func ExampleListenAndServe() {
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "hello")
	})
	// Files deployed with this version sit beside its binary, in _target/<name>/static.
	mux.Handle("/static/", http.StripPrefix("/static/",
		http.FileServer(http.Dir(filepath.Join(goazure.AssetDir(), "static")))))

	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	err := goazure.ListenAndServe(context.Background(), srv,
		goazure.WithDrainTimeout(time.Minute))
	if err != nil {
		log.Print(err)
		os.Exit(1)
	}
}

// A version's static files, shipped with the action's include input, are served from its asset
// folder with an ETag made from their content, so a browser never keeps the previous version's
// copy after a deploy. Fingerprinted names may be cached for a year.
func ExampleFileServer() {
	mux := http.NewServeMux()
	mux.Handle("/static/", http.StripPrefix("/static/",
		&goazure.FileServer{Dir: filepath.Join(goazure.AssetDir(), "static")}))
	mux.Handle("/assets/", http.StripPrefix("/assets/",
		&goazure.FileServer{Dir: filepath.Join(goazure.AssetDir(), "assets"), CacheControl: goazure.CacheImmutable}))

	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	if err := goazure.ListenAndServe(context.Background(), srv); err != nil {
		log.Print(err)
		os.Exit(1)
	}
}
