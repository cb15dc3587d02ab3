package goazure

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Cache-Control values for [FileServer].
const (
	// CacheRevalidate is FileServer's default: a browser may keep a file but asks each time
	// whether it is still current, and a file whose ETag still matches is answered "304 Not
	// Modified" without its bytes. Right for names that keep their name across versions
	// (static/app.css).
	CacheRevalidate = "no-cache"
	// CacheImmutable lets browsers and proxies keep a file for a year without asking again. Use
	// it only for fingerprinted names (app.3f9a1c.css), whose content never changes: a file
	// served with it under a name that a later version ships with other content stays stale in
	// browsers that have it.
	CacheImmutable = "public, max-age=31536000, immutable"
)

// FileServer is an http.Handler that serves the files under Dir, the release's assets: for
// example filepath.Join(AssetDir(), "static"), the folder the action uploads with the files
// its include input selects.
//
// Every answer carries a strong ETag made from the file's content (its SHA-256), so a browser
// that cached another version's file of the same name, whatever its time, gets the new bytes,
// and one whose copy is current gets "304 Not Modified" for its If-None-Match. Each file is hashed
// once per process, on its first request, and again only when its size or modification time
// changes. Answers carry Cache-Control: CacheControl, or [CacheRevalidate] when it is empty.
//
// Last-Modified is sent, but If-Modified-Since is not answered with 304: a rollback puts back
// files with older times than the ones a browser cached, so a time cannot tell that its copy is
// current; the ETag decides. A browser sending both headers is answered by If-None-Match anyway,
// which takes precedence, as http.ServeContent does too. Range requests, HEAD and the Content-Type from the file
// name are handled as by http.ServeContent.
//
// The request's URL path names the file, relative to Dir (strip a route prefix with
// http.StripPrefix); as with http.Dir, ".." cannot leave Dir, though symbolic links inside it
// are followed. Folders are not listed: a path naming one, or ending in "/", is answered 404, as
// is the site's identity key ([IdentityKeyFileName]) should Dir hold it (AppDir, or the zero
// value on App Service, where the launcher starts the app in the site's folder).
// Methods other than GET and HEAD are answered 405.
//
// The zero value serves the current directory. A FileServer must not be copied after first use.
type FileServer struct {
	// Dir is the folder served. Empty means the current directory.
	Dir string
	// CacheControl is the Cache-Control header of every file's answer; CacheRevalidate when
	// empty.
	CacheControl string

	mu    sync.Mutex
	etags map[string]*fileTag
	// hashed counts the files hashed; the tests read it.
	hashed atomic.Int64
}

// fileTag is the ETag of one version of a file, computed once by whichever request gets there
// first.
type fileTag struct {
	size    int64
	modTime time.Time
	once    sync.Once
	etag    string
	err     error
}

// ServeHTTP serves the file the request's URL path names; see [FileServer].
func (s *FileServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "405 method not allowed", http.StatusMethodNotAllowed)
		return
	}
	name := r.URL.Path
	if !strings.HasPrefix(name, "/") {
		name = "/" + name
	}
	if strings.HasSuffix(name, "/") {
		http.NotFound(w, r)
		return
	}
	name = path.Clean(name)
	f, err := http.Dir(s.Dir).Open(name)
	if err != nil {
		var pathErr *fs.PathError
		if !errors.As(err, &pathErr) {
			// http.Dir's own refusal of a name it cannot map under Dir (a NUL byte; on Windows a
			// backslash or a device name such as CON): the request's fault, not a server error
			// that Stats would count against the release.
			http.NotFound(w, r)
			return
		}
		fileError(w, r, err)
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		fileError(w, r, err)
		return
	}
	if st.IsDir() || s.isIdentityKey(name, st) {
		http.NotFound(w, r)
		return
	}
	etag, err := s.etag(name, st, f)
	if err != nil {
		fileError(w, r, err)
		return
	}
	h := w.Header()
	h.Set("ETag", etag)
	cacheControl := s.CacheControl
	if cacheControl == "" {
		cacheControl = CacheRevalidate
	}
	h.Set("Cache-Control", cacheControl)
	if mod := st.ModTime(); !mod.IsZero() && mod.Unix() > 0 {
		h.Set("Last-Modified", mod.UTC().Format(http.TimeFormat))
	}
	// No modification time for ServeContent: it would answer If-Modified-Since with 304 (see
	// the type's comment); the ETag above answers If-None-Match.
	http.ServeContent(w, r, st.Name(), time.Time{}, f)
}

// isIdentityKey reports whether st, the file name names, is the identity key file of its folder
// (IdentityKeyFileName), under any name Windows gives it (another case, a trailing dot, a short
// 8.3 name): Dir may be the site's folder, where the key lies, and the key is for the deploy alone.
func (s *FileServer) isIdentityKey(name string, st fs.FileInfo) bool {
	dir := s.Dir
	if dir == "" {
		dir = "."
	}
	key, err := os.Stat(filepath.Join(dir, filepath.FromSlash(path.Dir(name)), IdentityKeyFileName))
	return err == nil && os.SameFile(key, st)
}

// etag returns the ETag of the file name, open as f with the facts st, hashing it when this
// version of it (its size and modification time) has not been hashed yet. f is left at its start.
func (s *FileServer) etag(name string, st fs.FileInfo, f http.File) (string, error) {
	s.mu.Lock()
	if s.etags == nil {
		s.etags = make(map[string]*fileTag)
	}
	tag := s.etags[name]
	if tag == nil || tag.size != st.Size() || !tag.modTime.Equal(st.ModTime()) {
		tag = &fileTag{size: st.Size(), modTime: st.ModTime()}
		s.etags[name] = tag
	}
	s.mu.Unlock()

	tag.once.Do(func() {
		s.hashed.Add(1)
		h := sha256.New()
		if _, err := io.Copy(h, f); err != nil {
			tag.err = err
			return
		}
		tag.etag = `"` + base64.RawURLEncoding.EncodeToString(h.Sum(nil)) + `"`
	})
	if tag.err != nil {
		// Not kept: the next request tries again.
		s.mu.Lock()
		if s.etags[name] == tag {
			delete(s.etags, name)
		}
		s.mu.Unlock()
		return "", tag.err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return "", err
	}
	return tag.etag, nil
}

// fileError answers a failed open, stat or read as http.FileServer does, without the error's
// text, which could name paths on the server.
func fileError(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		http.NotFound(w, r)
	case errors.Is(err, fs.ErrPermission):
		http.Error(w, "403 Forbidden", http.StatusForbidden)
	default:
		http.Error(w, "500 Internal Server Error", http.StatusInternalServerError)
	}
}
