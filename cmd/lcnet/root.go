package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/lcnet/lcnet/storage"
	"github.com/spf13/cobra"
)

// Exit codes: 0 ok, 1 the command failed, 2 it was called wrongly.
const (
	exitOK    = 0
	exitFail  = 1
	exitUsage = 2
)

// app is what every command shares: where output goes and how the
// environment is read, so tests can run commands in-process.
type app struct {
	stdout, stderr io.Writer
	getenv         func(string) string
}

// usageError marks an error as the caller's mistake (exit 2).
type usageError struct{ err error }

func (u usageError) Error() string { return u.err.Error() }
func (u usageError) Unwrap() error { return u.err }

func usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

// run executes one lcnet command line and returns the process exit code.
// Failures print one line on stderr: "lcnet COMMAND: what went wrong".
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return runEnv(ctx, args, stdout, stderr, os.Getenv)
}

func runEnv(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	a := &app{stdout: stdout, stderr: stderr, getenv: getenv}
	root := a.rootCmd()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return exitOK
	}
	path := "lcnet"
	if cmd != nil {
		path = cmd.CommandPath()
	}
	var ue usageError
	if errors.As(err, &ue) || isCobraUsage(err) {
		fmt.Fprintf(stderr, "%s: %s\nRun '%s --help' for usage.\n", path, oneLine(err), path)
		return exitUsage
	}
	fmt.Fprintf(stderr, "%s: %s\n", path, oneLine(err))
	return exitFail
}

// isCobraUsage recognises the errors cobra itself returns for a command
// line it cannot dispatch (it has no error types for them).
func isCobraUsage(err error) bool {
	msg := err.Error()
	for _, p := range []string{"unknown command", "unknown flag", "unknown shorthand flag", "invalid argument", "flag needs an argument", "required flag", "accepts ", "requires at least", "requires at most"} {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return false
}

// oneLine keeps a failure to a single line on stderr even when the error
// joins several (errors.Join separates them with newlines).
func oneLine(err error) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(err.Error(), "\n", "; ")), " ")
}

func (a *app) rootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "lcnet",
		Short: "Serve, convert and run PaddlePaddle PP-LCNet image classifiers",
		Long: `lcnet serves PaddlePaddle PP-LCNet image classifiers from one static binary.

It converts PaddleClas and PaddleX checkpoints (.pdparams, inference models,
their tar archives) into a versioned model zoo, downloads the official
releases, classifies images from the command line and serves a REST API
with a demo page.

Every command keeps its models in a store: --store DIR (or $` + storeEnv + `),
` + storage.DefaultDir + ` by default.`,
		Example: `  # Download the official ImageNet model and classify a photo
  lcnet pull PPLCNet_x1_0
  lcnet classify cat.jpg --model PPLCNet_x1_0

  # Convert a checkpoint you trained and serve it
  lcnet convert output/best_model.pdparams --name mymodel
  lcnet serve --addr 127.0.0.1:8080`,
		SilenceErrors: true,
		SilenceUsage:  true,
		// A bare "lcnet" is a usage error, not a success that prints help.
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cmd.SetOut(a.stderr)
			if err := cmd.Help(); err != nil {
				return err
			}
			return usagef("no command given")
		},
	}
	// "lcnet --version" as well as "lcnet version".
	root.Version = versionString()
	root.SetVersionTemplate("{{.Version}}\n")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.CompletionOptions.DisableDefaultCmd = true
	root.AddCommand(
		a.serveCmd(),
		a.convertCmd(),
		a.trainCmd(),
		a.pullCmd(),
		a.zooCmd(),
		a.classifyCmd(),
		a.inferCmd(),
		a.exportCmd(),
		a.benchCmd(),
		a.versionCmd(),
	)
	return root
}

// storeFlag adds --store with its environment default to cmd.
func (a *app) storeFlag(cmd *cobra.Command, dst *string) {
	def := a.getenv(storeEnv)
	if def == "" {
		def = storage.DefaultDir
	}
	cmd.Flags().StringVar(dst, "store", def, "model store directory (env "+storeEnv+")")
}

// exactArgs is cobra.ExactArgs with a usage error that names the arguments.
func exactArgs(n int, what string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) != n {
			return usagef("want %s, got %d argument(s)", what, len(args))
		}
		return nil
	}
}

func minArgs(n int, what string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) < n {
			return usagef("want %s", what)
		}
		return nil
	}
}
