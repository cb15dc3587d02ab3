package goazure

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestInstanceArtifactFileName(t *testing.T) {
	for id, want := range map[string]string{
		"0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9": "_artifact.0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9.txt",
		"inst-one":              "_artifact.inst-one.txt",
		"":                      "",
		"a.b":                   "",
		"..\\x":                 "",
		"a b":                   "",
		strings.Repeat("a", 65): "",
	} {
		if got := InstanceArtifactFileName(id); got != want {
			t.Errorf("InstanceArtifactFileName(%q) = %q, want %q", id, got, want)
		}
	}
}

// The per-instance pointer wins over _artifact.txt while it exists; removing it makes the
// instance follow _artifact.txt again.
func TestInstancePointerComesFirst(t *testing.T) {
	t.Setenv("WEBSITE_INSTANCE_ID", "inst-one")
	r := start(t, context.Background(), slowHandler(nil, nil))
	own := filepath.Join(filepath.Dir(r.file), "_artifact.inst-one.txt")
	other := filepath.Join(filepath.Dir(r.file), "_artifact.inst-two.txt")
	// Another instance's pointer is not this one's.
	if err := os.WriteFile(other, []byte("_target\\next.exe\r\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// This instance's pointer says to keep running (it names a missing binary), whatever
	// _artifact.txt says.
	if err := os.WriteFile(own, []byte("_target\\missing.exe\r\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A poll that began before the pointer existed may still be reading: it found no pointer and
	// goes on to _artifact.txt. The deploy never writes both at once (a canary's pointer comes long
	// before the promotion's switch); here the switch waits for such a poll to end (the poll
	// interval is 20 ms; file reads under Wine are slow).
	time.Sleep(200 * time.Millisecond)
	r.switchTo(t, "next.exe")
	time.Sleep(200 * time.Millisecond)
	select {
	case err := <-r.done:
		t.Fatalf("the server handed over (%v) although this instance's pointer names another binary; log:\n%s", err, r.log)
	default:
	}
	if !strings.Contains(r.log.String(), "_artifact.inst-one.txt") {
		t.Errorf("the log does not name the per-instance pointer it read:\n%s", r.log)
	}
	// Removed (a canary rolled back or promoted): _artifact.txt applies again.
	if err := os.Remove(own); err != nil {
		t.Fatal(err)
	}
	if err := r.wait(t, 2*time.Second); err != nil {
		t.Fatalf("ListenAndServe = %v, want nil", err)
	}
}

func TestStatsOnlyWithTheKey(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) })
	mux.HandleFunc("/fail", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "no", http.StatusInternalServerError) })
	mux.HandleFunc("/missing", http.NotFound)
	r := start(t, context.Background(), mux)
	for _, p := range []string{"/", "/", "/fail", "/missing"} {
		if got := get(r.addr, p); got.err != nil {
			t.Fatal(got.err)
		}
	}
	// Without the key the path is the app's like any other, and is counted.
	if got := getWithKey(r.addr, StatsPath, ""); got.err != nil || got.body != "ok" || got.header.Get(FeaturesHeader) != "" {
		t.Fatalf("%s without the key: %+v", StatsPath, got)
	}
	got := getWithKey(r.addr, StatsPath, testIdentityKey)
	if got.err != nil || got.status != http.StatusOK {
		t.Fatalf("%s with the key: %+v", StatsPath, got)
	}
	if f := got.header.Get(FeaturesHeader); !strings.Contains(f, "instance-pointer") || !strings.Contains(f, "stats") {
		t.Errorf("%s = %q", FeaturesHeader, f)
	}
	var s Stats
	if err := json.Unmarshal([]byte(got.body), &s); err != nil {
		t.Fatalf("%v: %s", err, got.body)
	}
	if s.Requests != 5 || s.Errors != 1 {
		t.Errorf("requests %d, errors %d; want 5 and 1 (the stats request itself not counted)", s.Requests, s.Errors)
	}
	var n int64
	for _, c := range s.Latency {
		n += c
	}
	if n != 5 || len(s.Latency) != len(LatencyBoundsMillis)+1 || len(s.LatencyBoundsMillis) != len(LatencyBoundsMillis) {
		t.Errorf("latency buckets %v (bounds %v) do not count the 5 requests", s.Latency, s.LatencyBoundsMillis)
	}
	if s.Artifact == "" {
		t.Errorf("no artifact in %+v", s)
	}
}

func TestStatusWriterKeepsFlushAndHijack(t *testing.T) {
	var w http.ResponseWriter = &statusWriter{ResponseWriter: newRecorder()}
	if _, ok := w.(http.Flusher); !ok {
		t.Error("not a Flusher")
	}
	if _, ok := w.(http.Hijacker); !ok {
		t.Error("not a Hijacker")
	}
	if _, ok := w.(io.ReaderFrom); !ok {
		t.Error("not a ReaderFrom")
	}
}

type recorder struct{ h http.Header }

func newRecorder() *recorder                    { return &recorder{h: http.Header{}} }
func (r *recorder) Header() http.Header         { return r.h }
func (r *recorder) Write(b []byte) (int, error) { return len(b), nil }
func (r *recorder) WriteHeader(int)             {}

// A handler that panics (or aborts with http.ErrAbortHandler) sends no answer: net/http cuts the
// connection and IIS answers 502 in its place, so the counters must see an error, whatever
// status the handler had set before, or a release that panics looks healthy to the canary.
func TestStatsCountAPanickingHandlerAsAnError(t *testing.T) {
	d := newDrainer(false, identity{})
	for _, before := range []func(http.ResponseWriter){
		func(http.ResponseWriter) {},
		func(w http.ResponseWriter) { w.WriteHeader(http.StatusOK) },
	} {
		h := d.wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			before(w)
			panic(http.ErrAbortHandler)
		}))
		func() {
			defer func() { _ = recover() }()
			h.ServeHTTP(newRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
		}()
	}
	if s := d.stats.snapshot(identity{}); s.Requests != 2 || s.Errors != 2 {
		t.Errorf("requests %d, errors %d; want 2 and 2", s.Requests, s.Errors)
	}
}

// An answer that names the version must say it varies with the key even when the handler sets its
// own Vary header, or a shared cache in front of the site could hand it to a stranger.
func TestIdentityAnswerVariesWithTheKeyWhateverTheHandlerSets(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/written", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Vary", "Origin")
		w.Write([]byte("ok"))
	})
	mux.HandleFunc("/silent", func(w http.ResponseWriter, r *http.Request) { w.Header().Set("Vary", "Origin") })
	r := start(t, context.Background(), mux)
	for _, p := range []string{"/written", "/silent"} {
		got := getWithKey(r.addr, p, testIdentityKey)
		if got.err != nil || got.header.Get(ArtifactHeader) == "" {
			t.Fatalf("%s with the key: %+v", p, got)
		}
		if v := strings.Join(got.header.Values("Vary"), ", "); !strings.Contains(v, "Origin") || !strings.Contains(v, IdentityKeyHeader) {
			t.Errorf("%s with the key: Vary %q, want Origin and %s", p, v, IdentityKeyHeader)
		}
		if v := strings.Join(getWithKey(r.addr, p, "").header.Values("Vary"), ", "); v != "Origin" {
			t.Errorf("%s without the key: Vary %q, want the handler's alone", p, v)
		}
	}
}
