package relay

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
)

// SecretFile is the name of the TURN secret in the state directory.
const SecretFile = "turn-secret"

// LoadOrCreateSecret reads the TURN secret from SecretFile in stateDir,
// or creates it (and stateDir, 0700) with 32 random bytes. The file holds
// them in hex, one line, mode 0600: text, so that it can be given to
// coturn as its static-auth-secret, whose HMAC key is the text itself,
// as here. A file other users may read, or shorter than MinSecretLen, is
// refused.
func LoadOrCreateSecret(stateDir string) ([]byte, error) {
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		return nil, fmt.Errorf("create state directory: %w", err)
	}
	path := filepath.Join(stateDir, SecretFile)
	secret, err := readSecret(path)
	if errors.Is(err, fs.ErrNotExist) {
		secret, err = createSecret(path)
	}
	if err != nil {
		return nil, fmt.Errorf("load TURN secret: %w", err)
	}
	return secret, nil
}

func readSecret(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 && runtime.GOOS != "windows" {
		return nil, fmt.Errorf("%w: %s has mode %04o, want 0600 (chmod 600 %[2]s)", ErrSecretExposed, path, perm)
	}
	b, err := io.ReadAll(io.LimitReader(f, 4096))
	if err != nil {
		return nil, err
	}
	b = bytes.TrimSpace(b)
	if len(b) < MinSecretLen {
		return nil, fmt.Errorf("%w: %s holds %d bytes, at least %d needed", ErrSecretTooShort, path, len(b), MinSecretLen)
	}
	return b, nil
}

// createSecret writes a new secret. O_EXCL keeps two processes from each
// writing their own: the loser reads the winner's.
func createSecret(path string) ([]byte, error) {
	raw := make([]byte, 32)
	rand.Read(raw) // never fails (crypto/rand, Go 1.24+)
	secret := []byte(hex.EncodeToString(raw))
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return readSecret(path)
	}
	if err != nil {
		return nil, err
	}
	_, err = f.Write(append(secret, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return nil, err
	}
	return secret, nil
}
