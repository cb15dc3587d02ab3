package goazure

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"
)

// InstanceArtifactFileName is the name of the per-instance pointer for the App Service instance
// whose WEBSITE_INSTANCE_ID is id: "_artifact.<id>.txt", beside _artifact.txt. When it exists,
// goazure and the launcher on that instance read it instead of _artifact.txt (same rule, see
// [ParseArtifact]); the deploy writes it for a canary release, which runs the new version on one
// instance while the others keep the previous one, and removes it once the release is promoted to
// _artifact.txt or rolled back. It is "" when id is not 1 to 64 characters from A-Z, a-z, 0-9, '-'
// and '_' (App Service's ids are 64 hexadecimal digits): then there is no per-instance pointer.
func InstanceArtifactFileName(id string) string {
	if id == "" || len(id) > 64 {
		return ""
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return ""
		}
	}
	return "_artifact." + id + ".txt"
}

// instanceArtifactFile is the per-instance pointer beside artifactFile for this instance, or ""
// when there is no _artifact.txt or no usable WEBSITE_INSTANCE_ID.
func instanceArtifactFile(artifactFile, instanceID string) string {
	name := InstanceArtifactFileName(instanceID)
	if artifactFile == "" || name == "" {
		return ""
	}
	return filepath.Join(filepath.Dir(artifactFile), name)
}

// readPointer reads the pointer that applies to this instance: the per-instance one when it
// exists, else _artifact.txt. It returns the content and the file it came from.
func readPointer(artifactFile, instanceFile string) ([]byte, string, error) {
	if instanceFile != "" {
		b, err := os.ReadFile(instanceFile)
		if err == nil {
			return b, instanceFile, nil
		}
		if !errors.Is(err, os.ErrNotExist) {
			return nil, instanceFile, err
		}
	}
	b, err := os.ReadFile(artifactFile)
	return b, artifactFile, err
}

// FeaturesHeader lists, in an answer to a request that carries the identity key, what this
// release of goazure does beyond release 1.0.0, separated by spaces: "instance-pointer" (it
// reads [InstanceArtifactFileName]) and "stats" (it answers [StatsPath]). The deploy's canary
// refuses a version that does not name both.
const FeaturesHeader = "X-Goazure-Features"

// features is FeaturesHeader's value.
const features = "instance-pointer stats"

// StatsPath is the path at which goazure answers its request counters as JSON ([Stats]), only to
// a request that carries the site's identity key in [IdentityKeyHeader]; any other request for it
// goes to the app's handler like every other path. Requests for it are not counted.
const StatsPath = "/.goazure/stats"

// LatencyBoundsMillis are the upper bounds, in milliseconds, of [Stats].Latency's buckets; the
// last bucket counts everything slower than the last bound.
var LatencyBoundsMillis = [...]int64{5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000}

// Stats is what [StatsPath] answers: counters since the server started, cheap enough to keep on
// every request. Readers take two snapshots and subtract them.
type Stats struct {
	// Artifact is the running binary's file name.
	Artifact string `json:"artifact"`
	// Instance is InstanceHeader's value.
	Instance string `json:"instance"`
	// Started is when the server started serving, in RFC 3339 form.
	Started string `json:"started"`
	// Requests counts the requests the app's handler answered.
	Requests int64 `json:"requests"`
	// Errors counts those answered with a status of 500 or more, and those the handler's panic cut
	// off (which IIS answers 502).
	Errors int64 `json:"errors"`
	// LatencyBoundsMillis repeats [LatencyBoundsMillis].
	LatencyBoundsMillis []int64 `json:"latencyBoundsMillis"`
	// Latency counts the requests per bucket: Latency[i] took at most LatencyBoundsMillis[i] ms and
	// more than the bound before; the last one took longer than every bound.
	Latency []int64 `json:"latency"`
}

// counters are the atomic counters behind Stats.
type counters struct {
	started  time.Time
	requests atomic.Int64
	errors   atomic.Int64
	latency  [len(LatencyBoundsMillis) + 1]atomic.Int64
}

func newCounters() *counters { return &counters{started: time.Now()} }

// observe counts one answered request.
func (c *counters) observe(status int, took time.Duration) {
	c.requests.Add(1)
	if status >= 500 {
		c.errors.Add(1)
	}
	ms := took.Milliseconds()
	i := 0
	for i < len(LatencyBoundsMillis) && ms > LatencyBoundsMillis[i] {
		i++
	}
	c.latency[i].Add(1)
}

func (c *counters) snapshot(id identity) Stats {
	s := Stats{
		Started:             c.started.UTC().Format(time.RFC3339),
		Requests:            c.requests.Load(),
		Errors:              c.errors.Load(),
		LatencyBoundsMillis: LatencyBoundsMillis[:],
		Latency:             make([]int64, len(c.latency)),
	}
	if id.artifact != nil {
		s.Artifact = id.artifact[0]
	}
	if id.instance != nil {
		s.Instance = id.instance[0]
	}
	for i := range c.latency {
		s.Latency[i] = c.latency[i].Load()
	}
	return s
}

// serveStats answers StatsPath when r carries the identity key, and says whether it did.
func (c *counters) serveStats(w http.ResponseWriter, r *http.Request, id identity) bool {
	if r.URL.Path != StatsPath || !id.known(r) {
		return false
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(c.snapshot(id))
	return true
}

// statusWriter remembers the status an answer was sent with. It passes Flush, Hijack and ReadFrom
// on, and Unwrap lets http.ResponseController reach the server's own writer.
type statusWriter struct {
	http.ResponseWriter
	status int
	// varyKey says the answer carries the identity headers: it must vary with the key, even if
	// the handler replaced the Vary header identity.set added.
	varyKey bool
}

// headerGoesOut is called before the header is sent (and once the handler returned without
// writing): it puts the identity key back among Vary's fields if the handler took it out.
func (w *statusWriter) headerGoesOut() {
	if w.status != 0 || !w.varyKey {
		return
	}
	h := w.ResponseWriter.Header()
	for _, v := range h.Values("Vary") {
		for _, field := range strings.Split(v, ",") {
			if f := strings.TrimSpace(field); f == "*" || strings.EqualFold(f, IdentityKeyHeader) {
				return
			}
		}
	}
	h.Add("Vary", IdentityKeyHeader)
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 && code >= 200 {
		w.headerGoesOut()
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.headerGoesOut()
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		if w.status == 0 {
			w.headerGoesOut()
			w.status = http.StatusOK
		}
		f.Flush()
	}
}

func (w *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	h, ok := w.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, fmt.Errorf("goazure: %T cannot be hijacked", w.ResponseWriter)
	}
	w.status = http.StatusSwitchingProtocols
	return h.Hijack()
}

// ReadFrom keeps the server's own io.ReaderFrom (sendfile for files) within reach of io.Copy.
func (w *statusWriter) ReadFrom(r io.Reader) (int64, error) {
	if w.status == 0 {
		w.headerGoesOut()
		w.status = http.StatusOK
	}
	return io.Copy(w.ResponseWriter, r)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
