package secrets

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"

	"filippo.io/age"

	"github.com/berthops/berth/internal/atomicfile"
)

var nameRe = regexp.MustCompile(`^[A-Z_][A-Z0-9_]*$`)

// Path is where a secret lives in a config checkout rooted at root:
// secrets/NAME.age, or apps/APP/secrets/NAME.age for an app secret.
func Path(root, app, name string) (string, error) {
	if !nameRe.MatchString(name) {
		return "", fmt.Errorf("secret name %q is not a variable name (upper-case letters, digits and '_', not starting with a digit)", name)
	}
	if app == "" {
		return filepath.Join(root, "secrets", name+".age"), nil
	}
	if app == PreviewApp {
		return filepath.Join(root, "secrets", "preview", name+".age"), nil
	}
	if !filepath.IsLocal(app) || filepath.Base(app) != app {
		return "", fmt.Errorf("app %q is not an app name", app)
	}
	return filepath.Join(root, "apps", app, "secrets", name+".age"), nil
}

// PreviewApp, given as the app, names the preview scope:
// secrets/preview/NAME.age (`berth secrets set --preview`).
const PreviewApp = "@preview"

// Set encrypts value to the recipients and writes it (temp file and
// rename: never half a file).
func Set(root, app, name string, value []byte, recipients []age.Recipient) (string, error) {
	p, err := Path(root, app, name)
	if err != nil {
		return "", err
	}
	if len(value) == 0 {
		return "", errors.New("the value is empty")
	}
	if app == PreviewApp {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return "", err
		}
	} else if app != "" {
		if info, err := os.Stat(filepath.Join(root, "apps", app)); err != nil || !info.IsDir() {
			return "", fmt.Errorf("no app %q (apps/%s does not exist)", app, app)
		}
	}
	data, err := Encrypt(value, recipients)
	if err != nil {
		return "", err
	}
	if err := atomicfile.Write(p, data, 0o644); err != nil {
		return "", fmt.Errorf("writing %s: %w", p, err)
	}
	return p, nil
}

// Remove deletes a secret file.
func Remove(root, app, name string) (string, error) {
	p, err := Path(root, app, name)
	if err != nil {
		return "", err
	}
	if err := os.Remove(p); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("no secret %s", name)
		}
		return "", err
	}
	return p, nil
}

// Reencrypt decrypts a secret file with ids and encrypts it again to the
// recipients, in place.
func Reencrypt(path string, ids []age.Identity, recipients []age.Recipient) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	value, err := Decrypt(data, ids)
	if err != nil {
		return fmt.Errorf("%s: cannot be decrypted with the given identities: %w", path, err)
	}
	out, err := Encrypt(value, recipients)
	if err != nil {
		return err
	}
	return atomicfile.Write(path, out, 0o644)
}
