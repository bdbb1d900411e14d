package stack

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"caa-azure/caa"
	"caa-azure/caa/upstream"
)

// cloneTimeout bounds one upstream clone on a slow network.
const cloneTimeout = 5 * time.Minute

// runtimeClassTimeoutSeconds bounds the operator's install of kata on the
// nodes; the image pulls alone take minutes on a fresh node.
const runtimeClassTimeoutSeconds = 20 * 60

// renderManifests finds the upstream sources (the configured checkouts, or
// the release tags from the clone cache) and renders the guide's manifests.
// It runs before anything is registered, so its errors leave nothing behind.
func renderManifests(ctx context.Context, cfg *Config, cache *caa.SourceCache) (*caa.Manifests, error) {
	errs := &reader{}
	src := caa.Sources{CAADir: cfg.CAASourceDir, OperatorDir: cfg.OperatorSourceDir}
	checkout := func(key, repo, version string) string {
		cloneCtx, cancel := context.WithTimeout(ctx, cloneTimeout)
		defer cancel()
		if cache == nil {
			errs.fail(key, "no source cache is available to clone %s; set %s to a local checkout", repo, qualify(key))
			return ""
		}
		dir, err := cache.Checkout(cloneCtx, repo, "v"+version)
		if err != nil {
			errs.fail(key, "is empty, so the program fetches the release, but %v; clone it yourself "+
				"(`git clone --branch v%s %s`) and set %s to the checkout%s", err, version, repo, qualify(key), subdirHint(key))
			return ""
		}
		return dir
	}
	if src.OperatorDir == "" {
		src.OperatorDir = checkout(keyOperatorSourceDir, upstream.OperatorRepository, cfg.Release.OperatorVersion)
	}
	if src.CAADir == "" {
		if root := checkout(keyCAASourceDir, upstream.CAARepository, cfg.Release.CAAVersion); root != "" {
			src.CAADir = filepath.Join(root, upstream.CAASubdir)
		}
	}
	if err := errs.err(); err != nil {
		return nil, err
	}
	manifests, err := caa.Render(src, caa.RenderOptions{
		CAAImage:                cfg.Release.ImageRef().String(),
		RBACProxyImage:          cfg.RBACProxyImage,
		RuntimeClassWaitTimeout: runtimeClassTimeoutSeconds,
		NoWorkloadIdentity:      cfg.CAAAuth == CAAAuthServicePrincipal,
	})
	if err != nil {
		return nil, &ConfigError{Problems: []string{fmt.Sprintf("%s, %s: the upstream manifests cannot be used: %v",
			qualify(keyCAASourceDir), qualify(keyOperatorSourceDir), err)}}
	}
	return manifests, nil
}

func subdirHint(key string) string {
	if key == keyCAASourceDir {
		return "'s " + upstream.CAASubdir + " directory"
	}
	return ""
}

// defaultSourceCache is the clone cache in the user's cache directory.
func defaultSourceCache() *caa.SourceCache {
	dir, err := caa.DefaultCacheDir()
	if err != nil {
		return nil
	}
	return &caa.SourceCache{Dir: dir, Cloner: caa.GitCloner{}}
}
