package api

import (
	"errors"
	"fmt"
	"strings"
)

// zooPlaceholder stands in for *zoo.Zoo until package zoo lands. TEMPORARY.
type zooPlaceholder = any

func newZooBackend(z zooPlaceholder, threads int) (backend, error) {
	return nil, errors.New("zoo backend not wired yet")
}

// parseRef is zoo.ParseRef until package zoo lands. TEMPORARY.
func parseRef(ref string) (name, version string, err error) {
	name, version, _ = strings.Cut(ref, ":")
	if name == "" || strings.ContainsAny(name, "/\\ ") || strings.ContainsAny(version, "/\\ :") {
		return "", "", fmt.Errorf("model reference %q: want NAME or NAME:VERSION", ref)
	}
	return name, version, nil
}
