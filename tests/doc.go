// Package tests runs the whole stack under Pulumi mocks: every stack file,
// the existing-resource paths and configuration validation. All tests are
// offline; see CONTRIBUTING.md for the gated real-Azure tests.
package tests
