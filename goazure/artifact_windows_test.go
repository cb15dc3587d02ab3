//go:build windows

package goazure

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestWindowsPaths checks what only Windows shows: drive letters, backslashes and a file system
// that ignores case. The tests run on Windows as a windows/amd64 binary under Wine.
func TestWindowsPaths(t *testing.T) {
	appDir, running := site(t)
	file := filepath.Join(appDir, ArtifactFileName)
	newer := filepath.Join(appDir, TargetDirName, "site-bbbbbbbbbb.exe")

	// Another case of an existing binary's name names that binary.
	if got, err := nextArtifact([]byte(`_target\SITE-BBBBBBBBBB.exe`), file, running); err != nil || !strings.EqualFold(got, newer) {
		t.Errorf("a name in upper case: %q, %v; want %q", got, err, newer)
	}
	// The running binary, seen through a drive letter in the other case, is still the running one.
	other := strings.ToLower(running[:1]) + running[1:]
	if other == running {
		other = strings.ToUpper(running[:1]) + running[1:]
	}
	if got, err := nextArtifact([]byte("_target\\site-aaaaaaaaaa.exe\r\n"), file, other); err != nil || got != "" {
		t.Errorf("the running binary as %q: %q, %v; want no hand-over", other, got, err)
	}
	if got, want := appDirOf(`C:\home\site\wwwroot\_TARGET\x.exe`), `C:\home\site\wwwroot`; got != want {
		t.Errorf("appDirOf: %q, want %q", got, want)
	}
	if got, want := findArtifactFile("", `D:\home\site\wwwroot\_target\x.exe`, ""), `D:\home\site\wwwroot\_artifact.txt`; got != want {
		t.Errorf("findArtifactFile: %q, want %q", got, want)
	}
	if got, want := assetDirFor(`C:\w\_target\site-0123456789.exe`), `C:\w\_target\site-0123456789`; got != want {
		t.Errorf("assetDirFor: %q, want %q", got, want)
	}
	for _, content := range []string{`C:_target\a.exe`, `C:\w\_target\a.exe`, `\\?\C:\w\_target\a.exe`, `_target\a.exe:stream`, `_target\con.exe\..\a.exe`} {
		if name, err := ParseArtifact([]byte(content)); err == nil {
			t.Errorf("ParseArtifact(%q) = %q; want an error", content, name)
		}
	}
}
