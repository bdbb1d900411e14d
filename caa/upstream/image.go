package upstream

import (
	"fmt"
	"strings"
)

// ImageRef is a container image split into what the two install paths set
// separately: the repository, a tag and a digest.
type ImageRef struct {
	Name, Tag, Digest string
}

// SplitImage splits an image reference: "repo", "repo:tag", "repo@sha256:…"
// or "repo:tag@sha256:…" (a registry port is not a tag).
func SplitImage(image string) ImageRef {
	var r ImageRef
	if name, digest, ok := strings.Cut(image, "@"); ok {
		image, r.Digest = name, digest
	}
	if i := strings.LastIndex(image, ":"); i > strings.LastIndex(image, "/") {
		image, r.Tag = image[:i], image[i+1:]
	}
	r.Name = image
	return r
}

// WithTag applies a caaTag override: a tag, a digest ("sha256:…") or both
// ("v1@sha256:…"); what it gives replaces the image's own.
func (r ImageRef) WithTag(tag string) ImageRef {
	if tag == "" {
		return r
	}
	if strings.HasPrefix(tag, "sha256:") {
		r.Tag, r.Digest = "", tag
		return r
	}
	r.Tag, r.Digest = tag, ""
	if t, digest, ok := strings.Cut(tag, "@"); ok {
		r.Tag, r.Digest = t, digest
	}
	return r
}

// String is the whole reference, as the operator path's overlay sets it.
func (r ImageRef) String() string {
	s := r.Name
	if r.Tag != "" {
		s += ":" + r.Tag
	}
	if r.Digest != "" {
		s += "@" + r.Digest
	}
	return s
}

// ChartNameTag is the peerpods chart's image.name and image.tag. The chart
// renders "{{ name }}:{{ tag | default "latest" }}" (templates/daemonset.yaml,
// v0.18.0 to v0.22.0), so a digest can only ride on a tag ("v1@sha256:…"
// gives the valid "repo:v1@sha256:…"); a digest alone cannot be expressed.
func (r ImageRef) ChartNameTag() (name, tag string, err error) {
	switch {
	case r.Tag == "" && r.Digest != "":
		return "", "", fmt.Errorf("%s pins a digest without a tag, which the peerpods chart cannot render (it always "+
			"writes <image>:<tag>); give the tag with it, such as caaTag v0.22.0@%s", r, r.Digest)
	case r.Tag == "":
		return "", "", fmt.Errorf("%s has no tag, and the peerpods chart would use latest; set caaTag", r)
	case r.Digest != "":
		return r.Name, r.Tag + "@" + r.Digest, nil
	}
	return r.Name, r.Tag, nil
}
