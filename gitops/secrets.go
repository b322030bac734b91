package gitops

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strings"

	"github.com/berthops/berth/secrets"
)

var secretNameRe = regexp.MustCompile(`^[A-Z_][A-Z0-9_]*$`)

// SecretFile is one shared secret file: ciphertext, never a value.
type SecretFile = secrets.File

// loadSecrets reads secrets/*.age and apps/<app>/secrets/*.age.
func (l *loader) loadSecrets(d *Desired, apps []string) {
	l.secretDir(d, "secrets", secrets.ScopeGlobal, "")
	l.secretDir(d, "secrets/preview", secrets.ScopePreview, "")
	for _, app := range apps {
		l.secretDir(d, path.Join("apps", app, "secrets"), secrets.ScopeApp, app)
	}
}

func (l *loader) secretDir(d *Desired, dir, scope, app string) {
	entries, err := fs.ReadDir(l.fsys, dir)
	if errors.Is(err, fs.ErrNotExist) {
		return
	}
	if err != nil {
		d.SecretErrors = append(d.SecretErrors, &ConfigError{File: dir, Msg: err.Error()})
		return
	}
	byUpper := map[string]string{}
	for _, e := range entries {
		if name, ok := strings.CutSuffix(e.Name(), ".age"); ok && !e.IsDir() {
			byUpper[strings.ToUpper(name)] += " " + path.Join(dir, e.Name())
		}
	}
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".age")
		if !ok || e.IsDir() {
			continue
		}
		file := path.Join(dir, e.Name())
		if files := strings.Fields(byUpper[strings.ToUpper(name)]); len(files) > 1 {
			d.SecretErrors = append(d.SecretErrors, &ConfigError{File: file, Msg: fmt.Sprintf("secret names differ only in case: %s", strings.Join(files, " and "))})
			continue
		}
		if !secretNameRe.MatchString(name) {
			d.SecretErrors = append(d.SecretErrors, &ConfigError{File: file, Msg: fmt.Sprintf("secret name %q is not a variable name (upper-case letters, digits and '_', not starting with a digit)", name)})
			continue
		}
		data, err := l.readFile(file)
		if err != nil {
			d.SecretErrors = append(d.SecretErrors, &ConfigError{File: file, Msg: err.Error()})
			continue
		}
		if !secrets.IsAgeFile(data) {
			d.SecretErrors = append(d.SecretErrors, &ConfigError{File: file, Msg: "is not an age-encrypted file (use `berth secrets set`)"})
			continue
		}
		sum := sha256.Sum256(data)
		d.Secrets = append(d.Secrets, SecretFile{Scope: scope, App: app, Name: name, File: file, Sum: hex.EncodeToString(sum[:]), Data: data})
	}
	sort.Slice(d.Secrets, func(i, j int) bool { return d.Secrets[i].File < d.Secrets[j].File })
}
