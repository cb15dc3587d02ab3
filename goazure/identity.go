package goazure

import (
	"crypto/subtle"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
)

// Header names that say which version and which instance answered: the running binary's file
// name, the commit it was built from when that is known, and the App Service instance.
//
// They are sent only to a request that carries the site's identity key in [IdentityKeyHeader]:
// the deploy writes a new random key to [IdentityKeyFileName] before each switch and sends it with
// its own health checks, so it learns which binary on which instance answered, while every other
// visitor learns nothing about the version (no commit to fingerprint a private repository by).
// Release 1.0.0 sends none of them; the deploy tells its versions apart by Kudu's process list.
const (
	ArtifactHeader = "X-Goazure-Artifact"
	CommitHeader   = "X-Goazure-Commit"
	InstanceHeader = "X-Goazure-Instance"
)

// IdentityKeyHeader is the request header that must carry the site's identity key for an answer
// to carry ArtifactHeader, CommitHeader and InstanceHeader.
const IdentityKeyHeader = "X-Goazure-Identity-Key"

// IdentityKeyFileName is the file, beside _artifact.txt, that holds the identity key: one line of
// at least 32 and at most 256 printable ASCII characters. The deploy writes it; it is read once,
// when the server starts. Without it, or with anything else in it, no answer carries the headers.
const IdentityKeyFileName = "_identity.txt"

// InstanceIDLength is how many characters of WEBSITE_INSTANCE_ID (App Service's id of the machine,
// 64 hexadecimal digits, which the ARRAffinity cookie names) InstanceHeader carries: enough to tell
// a site's instances apart.
const InstanceIDLength = 12

// identity holds the headers' values, worked out once when the server starts, so that each answer
// costs a comparison and three map assignments. Each value slice is full (len == cap): a handler
// that adds to the header gets a copy instead of writing into the shared array.
type identity struct {
	key      []byte
	artifact []string
	commit   []string
	instance []string
}

func newIdentity(exe, commit, instanceID string, key []byte) identity {
	id := identity{key: key}
	if exe != "" {
		id.artifact = headerValue(filepath.Base(exe))
	}
	if commit == "" {
		commit = buildRevision()
	}
	id.commit = headerValue(commit)
	instanceID = strings.ToLower(strings.TrimSpace(instanceID))
	if len(instanceID) > InstanceIDLength {
		instanceID = instanceID[:InstanceIDLength]
	}
	id.instance = headerValue(instanceID)
	return id
}

// set adds the headers to the answer to r when r carries the identity key; those a value is
// unknown for are left out. Such an answer also says it varies with the key, so a shared cache in
// front of the site never hands it to a request without the key.
func (id identity) set(h http.Header, r *http.Request) {
	if !id.known(r) {
		return
	}
	h.Add("Vary", IdentityKeyHeader)
	h[FeaturesHeader] = featuresValue
	if id.artifact != nil {
		h[ArtifactHeader] = id.artifact
	}
	if id.commit != nil {
		h[CommitHeader] = id.commit
	}
	if id.instance != nil {
		h[InstanceHeader] = id.instance
	}
}

// featuresValue is FeaturesHeader's value, full so that a handler's change copies it.
var featuresValue = []string{features}

// known reports whether r carries the identity key.
func (id identity) known(r *http.Request) bool {
	if len(id.key) == 0 {
		return false
	}
	given := r.Header.Get(IdentityKeyHeader)
	return given != "" && subtle.ConstantTimeCompare([]byte(given), id.key) == 1
}

// readIdentityKey reads the identity key beside artifactFile; nil when there is none or the file
// does not hold one (see IdentityKeyFileName).
func readIdentityKey(artifactFile string) []byte {
	if artifactFile == "" {
		return nil
	}
	b, err := os.ReadFile(filepath.Join(filepath.Dir(artifactFile), IdentityKeyFileName))
	if err != nil {
		return nil
	}
	key := strings.TrimSpace(string(b))
	if len(key) < 32 || len(key) > 256 || strings.IndexFunc(key, func(r rune) bool { return r <= 0x20 || r > 0x7e }) >= 0 {
		return nil
	}
	return []byte(key)
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
