package goazure

import (
	"net/http"
	"path/filepath"
	"runtime/debug"
	"strings"
)

// Header names that say which version answered: the running binary's file name, and the commit
// it was built from when that is known.
const (
	ArtifactHeader = "X-Goazure-Artifact"
	CommitHeader   = "X-Goazure-Commit"
)

// identity holds the two headers' values, worked out once when the server starts, so that each
// answer costs two map assignments. Each value slice is full (len == cap): a handler that adds to
// the header gets a copy instead of writing into the shared array.
type identity struct {
	artifact []string
	commit   []string
}

func newIdentity(exe, commit string) identity {
	var id identity
	if exe != "" {
		id.artifact = headerValue(filepath.Base(exe))
	}
	if commit == "" {
		commit = buildRevision()
	}
	id.commit = headerValue(commit)
	return id
}

// set adds the headers to an answer; those a value is unknown for are left out.
func (id identity) set(h http.Header) {
	if id.artifact != nil {
		h[ArtifactHeader] = id.artifact
	}
	if id.commit != nil {
		h[CommitHeader] = id.commit
	}
}

// headerValue is v as a one-element header value, or nil when v is empty or holds anything but
// printable ASCII, which a header cannot carry as it is.
func headerValue(v string) []string {
	v = strings.TrimSpace(v)
	if v == "" || strings.IndexFunc(v, func(r rune) bool { return r < 0x20 || r > 0x7e }) >= 0 {
		return nil
	}
	return []string{v}
}

// buildRevision is the vcs.revision Go stamped into the binary, "" when it has none.
func buildRevision() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	for _, s := range info.Settings {
		if s.Key == "vcs.revision" {
			return s.Value
		}
	}
	return ""
}
