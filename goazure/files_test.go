package goazure

import (
	"crypto/sha256"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// writeAsset writes a file under dir with the given content and modification time.
func writeAsset(t *testing.T, dir, name, content string, mod time.Time) {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(p, mod, mod); err != nil {
		t.Fatal(err)
	}
}

func contentETag(content string) string {
	sum := sha256.Sum256([]byte(content))
	return `"` + base64.RawURLEncoding.EncodeToString(sum[:]) + `"`
}

// get sends a request to h with the given headers and returns the recorded answer.
func serveFile(t *testing.T, h http.Handler, method, target string, headers map[string]string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func readBody(t *testing.T, res *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

var (
	v1Time = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	v2Time = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
)

func TestFileServerAnswersWithContentETagAndRevalidation(t *testing.T) {
	dir := tempDir(t)
	writeAsset(t, dir, "app.css", "body { color: red }\n", v1Time)
	s := &FileServer{Dir: dir}

	res := serveFile(t, s, http.MethodGet, "/app.css", nil)
	if res.StatusCode != http.StatusOK || readBody(t, res) != "body { color: red }\n" {
		t.Fatalf("GET /app.css = %d", res.StatusCode)
	}
	want := map[string]string{
		"ETag":          contentETag("body { color: red }\n"),
		"Cache-Control": "no-cache",
		"Last-Modified": "Sun, 01 Mar 2026 10:00:00 GMT",
	}
	for k, v := range want {
		if got := res.Header.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	// From the name; Windows' registry may leave out the charset.
	if got := res.Header.Get("Content-Type"); !strings.HasPrefix(got, "text/css") {
		t.Errorf("Content-Type = %q, want text/css", got)
	}

	// The copy is current: 304, no body, the validators and the caching rule kept.
	etag := res.Header.Get("ETag")
	for _, inm := range []string{etag, `"other", ` + etag, "W/" + etag, "*"} {
		res := serveFile(t, s, http.MethodGet, "/app.css", map[string]string{"If-None-Match": inm})
		if res.StatusCode != http.StatusNotModified || readBody(t, res) != "" {
			t.Errorf("If-None-Match %s: %d, want 304 without a body", inm, res.StatusCode)
		}
		if res.Header.Get("ETag") != etag || res.Header.Get("Cache-Control") != "no-cache" {
			t.Errorf("If-None-Match %s: 304 carries ETag %q, Cache-Control %q", inm, res.Header.Get("ETag"), res.Header.Get("Cache-Control"))
		}
	}

	head := serveFile(t, s, http.MethodHead, "/app.css", nil)
	if head.StatusCode != http.StatusOK || readBody(t, head) != "" || head.Header.Get("ETag") != etag || head.Header.Get("Content-Length") != "20" {
		t.Errorf("HEAD: %d, ETag %q, Content-Length %q", head.StatusCode, head.Header.Get("ETag"), head.Header.Get("Content-Length"))
	}
	ranged := serveFile(t, s, http.MethodGet, "/app.css", map[string]string{"Range": "bytes=0-3"})
	if ranged.StatusCode != http.StatusPartialContent || readBody(t, ranged) != "body" {
		t.Errorf("Range: %d", ranged.StatusCode)
	}
}

// A browser that cached v1's file holds v1's ETag and Last-Modified and sends both. After the
// switch to v2 it must get v2's bytes, whichever file is newer: a new commit's files are, a
// rollback's are older.
func TestFileServerNewVersionIsNeverAnswered304ForTheOldCopy(t *testing.T) {
	for _, tc := range []struct {
		name   string
		v2Time time.Time
	}{
		{"newer files", v2Time},
		{"older files (a rollback)", v1Time.Add(-24 * time.Hour)},
		{"the same time", v1Time},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v1Dir, v2Dir := tempDir(t), tempDir(t)
			writeAsset(t, v1Dir, "app.css", "body { color: red }\n", v1Time)
			writeAsset(t, v2Dir, "app.css", "body { color: blue }\n", tc.v2Time)
			v1 := serveFile(t, &FileServer{Dir: v1Dir}, http.MethodGet, "/app.css", nil)
			cached := map[string]string{"If-None-Match": v1.Header.Get("ETag"), "If-Modified-Since": v1.Header.Get("Last-Modified")}

			v2 := &FileServer{Dir: v2Dir}
			res := serveFile(t, v2, http.MethodGet, "/app.css", cached)
			if res.StatusCode != http.StatusOK || readBody(t, res) != "body { color: blue }\n" {
				t.Fatalf("v1's validators against v2: %d, want 200 with v2's bytes", res.StatusCode)
			}
			// If-Modified-Since alone never claims the copy is current.
			alone := serveFile(t, v2, http.MethodGet, "/app.css", map[string]string{"If-Modified-Since": time.Now().UTC().Format(http.TimeFormat)})
			if alone.StatusCode != http.StatusOK {
				t.Errorf("If-Modified-Since alone: %d, want 200", alone.StatusCode)
			}
			// Nothing changed: v2's own validators get 304.
			same := serveFile(t, v2, http.MethodGet, "/app.css", map[string]string{"If-None-Match": res.Header.Get("ETag"), "If-Modified-Since": res.Header.Get("Last-Modified")})
			if same.StatusCode != http.StatusNotModified {
				t.Errorf("v2's validators against v2: %d, want 304", same.StatusCode)
			}
		})
	}
}

func TestFileServerCacheControlOption(t *testing.T) {
	dir := tempDir(t)
	writeAsset(t, dir, "app.3f9a1c.css", "x", v1Time)
	res := serveFile(t, &FileServer{Dir: dir, CacheControl: CacheImmutable}, http.MethodGet, "/app.3f9a1c.css", nil)
	if got := res.Header.Get("Cache-Control"); got != "public, max-age=31536000, immutable" {
		t.Errorf("Cache-Control = %q", got)
	}
}

func TestFileServerRefusesWhatIsNotAFileUnderDir(t *testing.T) {
	root := tempDir(t)
	dir := filepath.Join(root, "static")
	writeAsset(t, root, "secret.txt", "secret", v1Time)
	writeAsset(t, dir, "css/app.css", "x", v1Time)
	s := &FileServer{Dir: dir}
	for _, tc := range []struct {
		method, target string
		status         int
	}{
		{http.MethodGet, "/missing.css", http.StatusNotFound},
		{http.MethodGet, "/css", http.StatusNotFound},
		{http.MethodGet, "/css/", http.StatusNotFound},
		{http.MethodGet, "/", http.StatusNotFound},
		{http.MethodGet, "/../secret.txt", http.StatusNotFound},
		{http.MethodGet, "/css/app.css/x", http.StatusNotFound},
		{http.MethodPost, "/css/app.css", http.StatusMethodNotAllowed},
		{http.MethodGet, "/css/../css/app.css", http.StatusOK},
	} {
		req := httptest.NewRequest(tc.method, "/", nil)
		req.URL.Path = tc.target // as http.StripPrefix may leave it, uncleaned
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		if rec.Code != tc.status {
			t.Errorf("%s %s = %d, want %d", tc.method, tc.target, rec.Code, tc.status)
		}
		if rec.Code != http.StatusOK && rec.Header().Get("ETag") != "" {
			t.Errorf("%s %s: an error carries an ETag", tc.method, tc.target)
		}
	}
	if res := serveFile(t, s, http.MethodPost, "/css/app.css", nil); res.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("405 without Allow: %q", res.Header.Get("Allow"))
	}
	// Behind http.StripPrefix the path has no leading slash.
	strip := http.StripPrefix("/static/", s)
	if res := serveFile(t, strip, http.MethodGet, "/static/css/app.css", nil); res.StatusCode != http.StatusOK {
		t.Errorf("behind StripPrefix: %d", res.StatusCode)
	}
}

func TestFileServerHashesEachFileOnceUnderConcurrentRequests(t *testing.T) {
	dir := tempDir(t)
	writeAsset(t, dir, "a.js", "console.log('a')\n", v1Time)
	writeAsset(t, dir, "b.js", "console.log('b')\n", v1Time)
	s := &FileServer{Dir: dir}
	srv := httptest.NewServer(s)
	defer srv.Close()

	var wg sync.WaitGroup
	errs := make(chan string, 100)
	for i := 0; i < 100; i++ {
		name := []string{"a.js", "b.js"}[i%2]
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := srv.Client().Get(srv.URL + "/" + name)
			if err != nil {
				errs <- err.Error()
				return
			}
			defer res.Body.Close()
			b, _ := io.ReadAll(res.Body)
			if res.StatusCode != http.StatusOK || res.Header.Get("ETag") != contentETag(string(b)) {
				errs <- name + ": " + res.Status + " " + res.Header.Get("ETag")
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if n := s.hashed.Load(); n != 2 {
		t.Errorf("hashed %d times for 2 files, want 2", n)
	}

	// A file that changes on disk (its size or time) is hashed again.
	writeAsset(t, dir, "a.js", "console.log('a, changed')\n", v2Time)
	res := serveFile(t, s, http.MethodGet, "/a.js", nil)
	if got := res.Header.Get("ETag"); got != contentETag("console.log('a, changed')\n") {
		t.Errorf("after a change: ETag %q", got)
	}
	if n := s.hashed.Load(); n != 3 {
		t.Errorf("hashed %d times, want 3", n)
	}
}

// A name http.Dir refuses (here a NUL byte; on Windows also a backslash or a device name such as
// CON) is the request's fault: 404, not a 500 that Stats would count against the release.
func TestFileServerAnswersANameItRefuses404(t *testing.T) {
	dir := tempDir(t)
	writeAsset(t, dir, "app.css", "x", v1Time)
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.URL.Path = "/app\x00.css"
	rec := httptest.NewRecorder()
	(&FileServer{Dir: dir}).ServeHTTP(rec, req)
	if rec.Code != http.StatusNotFound {
		t.Errorf("GET /app%%00.css = %d, want 404", rec.Code)
	}
}

// Served from the site's folder (the zero value under the launcher, which starts the app there, or
// AppDir()), FileServer must not hand the identity key to strangers, under any name of the file.
func TestFileServerNeverServesTheIdentityKey(t *testing.T) {
	dir := tempDir(t)
	writeAsset(t, dir, IdentityKeyFileName, strings.Repeat("k", 64), v1Time)
	writeAsset(t, dir, "site.css", "x", v1Time)
	if err := os.Link(filepath.Join(dir, IdentityKeyFileName), filepath.Join(dir, "alias.txt")); err != nil {
		t.Fatal(err)
	}
	s := &FileServer{Dir: dir}
	for _, target := range []string{"/" + IdentityKeyFileName, "/alias.txt"} {
		if res := serveFile(t, s, http.MethodGet, target, nil); res.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s = %d, want 404", target, res.StatusCode)
		}
	}
	if res := serveFile(t, s, http.MethodGet, "/site.css", nil); res.StatusCode != http.StatusOK {
		t.Errorf("GET /site.css = %d", res.StatusCode)
	}
}
