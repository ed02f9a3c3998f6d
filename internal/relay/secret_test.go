package relay

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestLoadOrCreateSecret(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state", "epicshare") // does not exist yet
	secret, err := LoadOrCreateSecret(dir)
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if len(secret) != 64 {
		t.Errorf("secret of %d characters, want 64 (32 bytes in hex)", len(secret))
	}
	path := filepath.Join(dir, SecretFile)
	for name, want := range map[string]os.FileMode{dir: 0o700, path: 0o600} {
		if fi, err := os.Stat(name); err != nil || fi.Mode().Perm() != want {
			t.Errorf("%s: %v, mode %v, want %04o", name, err, fi.Mode().Perm(), want)
		}
	}
	t.Run("read back", func(t *testing.T) {
		again, err := LoadOrCreateSecret(dir)
		if err != nil || !bytes.Equal(again, secret) {
			t.Errorf("second load: %q, %v; want the same secret", again, err)
		}
	})
	t.Run("world-readable", func(t *testing.T) {
		if err := os.Chmod(path, 0o644); err != nil {
			t.Fatal(err)
		}
		defer os.Chmod(path, 0o600)
		if _, err := LoadOrCreateSecret(dir); !errors.Is(err, ErrSecretExposed) {
			t.Errorf("load of a 0644 file: %v, want ErrSecretExposed", err)
		}
	})
	t.Run("too short", func(t *testing.T) {
		short := t.TempDir()
		if err := os.WriteFile(filepath.Join(short, SecretFile), []byte("tiny\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadOrCreateSecret(short); !errors.Is(err, ErrSecretTooShort) {
			t.Errorf("load of a short secret: %v, want ErrSecretTooShort", err)
		}
	})
}
