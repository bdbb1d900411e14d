package stack

import (
	"fmt"
	"os"
	"os/exec"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"caa-azure/caa"
)

// MinimumPulumiVersion is the oldest Pulumi CLI the program runs on: 3.219.0
// is the first release with the RequirePulumiVersion RPC (pulumi/pulumi#21429,
// released with `requiredPulumiVersion` for Pulumi.yaml); it also has
// `deletedWith`, on which teardown relies.
const MinimumPulumiVersion = ">=3.219.0"

// Deployment is what a run tells its caller besides an error.
type Deployment struct {
	// Warnings are what the run told the user, in order.
	Warnings []string
}

// Options are the outside world Deploy talks to. The zero value is a
// world with nothing in it (no environment, no programs, no Azure API, no
// network), so a test sees only the fakes it passes in; Deploy passes the
// real one.
type Options struct {
	// Sources caches upstream clones; nil allows only local checkouts.
	Sources *caa.SourceCache
	// Preflight opens the Azure API for the preflight checks; nil skips them.
	Preflight PreflightFactory
	// LookPath finds programs the deployment runs (kubelogin); nil finds none.
	LookPath func(string) (string, error)
	// Env reads an environment variable (the provider's ARM_* settings,
	// AZURE_FEDERATED_TOKEN_FILE); nil is an empty environment.
	Env func(string) (string, bool)
}

// Deploy is the whole stack: it reads the configuration, resolves
// everything that must be looked up, then builds the components and
// exports the outputs. Nothing is registered unless the first two succeed.
func Deploy(ctx *pulumi.Context) error {
	_, err := DeployWith(ctx, productionOptions())
	return err
}

// productionOptions is the real outside world: the process environment
// and PATH, the Azure API and the user's clone cache.
func productionOptions() Options {
	return Options{Sources: defaultSourceCache(), Preflight: azurePreflight, LookPath: exec.LookPath, Env: os.LookupEnv}
}

// DeployWith is Deploy with explicit Options.
func DeployWith(ctx *pulumi.Context, opts Options) (*Deployment, error) {
	if err := ctx.RequirePulumiVersion(MinimumPulumiVersion); err != nil {
		return nil, fmt.Errorf("caa-azure needs Pulumi CLI %s (`pulumi version`; upgrade with `pulumi upgrade` or your package manager): %w",
			MinimumPulumiVersion, err)
	}
	if err := checkFresh(builtFrom, ctx.RootDirectory()); err != nil {
		return nil, err
	}
	cfg, warnings, err := Parse(ctx.Project(), ctx.Stack(), func(key string) (string, bool) { return ctx.GetConfig(key) })
	if err != nil {
		return nil, err
	}
	log := &userLog{ctx: ctx}
	for _, w := range warnings {
		log.warn(w)
	}
	if opts.Env == nil {
		opts.Env = func(string) (string, bool) { return "", false }
	}
	if opts.LookPath == nil {
		opts.LookPath = func(file string) (string, error) { return "", &exec.Error{Name: file, Err: exec.ErrNotFound} }
	}
	res, err := resolve(ctx, cfg, opts, log)
	if err != nil {
		return nil, err
	}
	if err := build(ctx, res); err != nil {
		return nil, err
	}
	return &Deployment{Warnings: log.warnings}, nil
}

// userLog shows warnings to the user and keeps them for the caller.
type userLog struct {
	ctx      *pulumi.Context
	warnings []string
}

func (l *userLog) warn(msg string) {
	l.warnings = append(l.warnings, msg)
	_ = l.ctx.Log.Warn(msg, nil)
}

// LaunchedByPulumi explains, when the engine did not start the program (it
// passes the address of its resource monitor), how to run it.
func LaunchedByPulumi(env func(string) (string, bool)) error {
	if v, ok := env(pulumi.EnvMonitor); ok && v != "" {
		return nil
	}
	return fmt.Errorf("caa-azure is a Pulumi program: run it through Pulumi, in this directory, with `pulumi preview` or " +
		"`pulumi up` (README.md, Deploy); run by hand it has no Pulumi engine to talk to")
}
