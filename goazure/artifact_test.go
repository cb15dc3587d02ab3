package goazure

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// site lays out an app folder: _target holding the running binary and other versions.
func site(t *testing.T) (appDir, running string) {
	t.Helper()
	appDir = t.TempDir()
	target := filepath.Join(appDir, TargetDirName)
	if err := os.MkdirAll(filepath.Join(target, "site-bbbbbbbbbb"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"site-aaaaaaaaaa.exe", "site-bbbbbbbbbb.exe", "with space.exe"} {
		if err := os.WriteFile(filepath.Join(target, name), []byte("MZ"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return appDir, filepath.Join(target, "site-aaaaaaaaaa.exe")
}

func TestNextArtifact(t *testing.T) {
	appDir, running := site(t)
	file := filepath.Join(appDir, ArtifactFileName)
	newer := filepath.Join(appDir, TargetDirName, "site-bbbbbbbbbb.exe")
	cases := []struct {
		name     string
		content  string
		want     string
		noSwitch string // part of the reason not to switch; "" when there is none
	}{
		{"CRLF, as the deploy writes it", "_target\\site-bbbbbbbbbb.exe\r\n", newer, ""},
		{"no final newline", "_target\\site-bbbbbbbbbb.exe", newer, ""},
		{"LF and forward slashes", "_target/site-bbbbbbbbbb.exe\n", newer, ""},
		{"byte order mark and blanks", "\ufeff  _target\\site-bbbbbbbbbb.exe  \r\n", newer, ""},
		{"a space in the name", "_target\\with space.exe\r\n", filepath.Join(appDir, TargetDirName, "with space.exe"), ""},
		{"the running binary", "_target\\site-aaaaaaaaaa.exe\r\n", "", ""},
		{"the running binary, other case", "_TARGET\\SITE-AAAAAAAAAA.EXE\r\n", "", ""},
		{"empty", "", "", "is empty"},
		{"only a line break", "\r\n", "", "is empty"},
		{"a blank line first", "\r\n_target\\site-bbbbbbbbbb.exe\r\n", newer, ""},
		{"a half-written name", "_target\\site-bbbbb", "", "does not exist"},
		{"a half-written name that is an asset folder", "_target\\site-bbbbbbbbbb", "", "not a file"},
		{"a missing binary", "_target\\site-cccccccccc.exe\r\n", "", "does not exist"},
		{"an absolute path", "/etc/passwd\r\n", "", "not a path relative"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := nextArtifact([]byte(c.content), file, running)
			if c.noSwitch != "" {
				if err == nil || !strings.Contains(err.Error(), c.noSwitch) {
					t.Fatalf("nextArtifact(%q) = %q, %v; want an error containing %q", c.content, got, err, c.noSwitch)
				}
				return
			}
			if err != nil || got != c.want {
				t.Fatalf("nextArtifact(%q) = %q, %v; want %q", c.content, got, err, c.want)
			}
		})
	}
}

func TestFindArtifactFile(t *testing.T) {
	appDir, running := site(t)
	home := t.TempDir()
	homeFile := filepath.Join(home, "site", "wwwroot", ArtifactFileName)

	if got := findArtifactFile("/x/_artifact.txt", running, home); got != "/x/_artifact.txt" {
		t.Errorf("an override: got %q", got)
	}
	if got, want := findArtifactFile("", running, home), filepath.Join(appDir, ArtifactFileName); got != want {
		t.Errorf("a binary in _target: got %q, want %q", got, want)
	}
	outside := filepath.Join(t.TempDir(), "app")
	if got := findArtifactFile("", outside, home); got != "" {
		t.Errorf("a binary outside _target, no file under HOME: got %q, want none", got)
	}
	if err := os.MkdirAll(filepath.Dir(homeFile), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(homeFile, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if got := findArtifactFile("", outside, home); got != homeFile {
		t.Errorf("a binary outside _target, a file under HOME: got %q, want %q", got, homeFile)
	}
	if got, want := findArtifactFile("", running, home), filepath.Join(appDir, ArtifactFileName); got != want {
		t.Errorf("the binary's own site comes before HOME: got %q, want %q", got, want)
	}
}

func TestAppDirOf(t *testing.T) {
	appDir, running := site(t)
	if got := appDirOf(running); got != appDir {
		t.Errorf("appDirOf(%q) = %q, want %q", running, got, appDir)
	}
	if got := appDirOf(filepath.Join(appDir, "app.exe")); got != "" {
		t.Errorf("a binary outside _target: got %q, want none", got)
	}
}

func TestListenAddr(t *testing.T) {
	cases := []struct {
		name     string
		opt      int
		srvAddr  string
		platform string
		args     []string
		want     string
	}{
		{"the platform's port wins, on loopback", 9000, "0.0.0.0:7000", "12345", []string{"-port", "8000"}, "127.0.0.1:12345"},
		{"WithPort", 9000, "", "", []string{"-port", "8000"}, "127.0.0.1:9000"},
		{"-port N", -1, "", "", []string{"-port", "8000"}, "127.0.0.1:8000"},
		{"--port=N", -1, "", "", []string{"-v", "--port=8001"}, "127.0.0.1:8001"},
		{"a port that is not a number is ignored", -1, "", "junk", []string{"-port", "x"}, "127.0.0.1:8080"},
		{"srv.Addr", -1, "0.0.0.0:7000", "", nil, "0.0.0.0:7000"},
		{"srv.Addr's host with WithPort", 0, "0.0.0.0:7000", "", nil, "0.0.0.0:0"},
		{"the default", -1, "", "", []string{"12345"}, "127.0.0.1:8080"},
	}
	for _, c := range cases {
		if got := listenAddr(c.opt, c.srvAddr, c.platform, c.args); got != c.want {
			t.Errorf("%s: listenAddr = %q, want %q", c.name, got, c.want)
		}
	}
}

func TestAppDirAndAssetDir(t *testing.T) {
	appDir, running := site(t)
	if got := appDirFor(running); got != appDir {
		t.Errorf("appDirFor(%q) = %q, want %q", running, got, appDir)
	}
	if got, want := assetDirFor(running), filepath.Join(appDir, TargetDirName, "site-aaaaaaaaaa"); got != want {
		t.Errorf("assetDirFor(%q) = %q, want %q", running, got, want)
	}
	dev := filepath.Join(t.TempDir(), "app")
	if got := appDirFor(dev); got != filepath.Dir(dev) {
		t.Errorf("outside _target, appDirFor = %q, want the binary's folder", got)
	}
	if got := assetDirFor(dev); got != filepath.Dir(dev) {
		t.Errorf("outside _target, assetDirFor = %q, want the binary's folder", got)
	}
}
