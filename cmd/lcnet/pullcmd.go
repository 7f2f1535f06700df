package main

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/lcnet/lcnet/pull"
)

func (a *app) pullCmd() *cobra.Command {
	var (
		store, mirror, version, dtype string
		list, asJSON                  bool
	)
	cmd := &cobra.Command{
		Use:   "pull NAME",
		Short: "Download an official PP-LCNet model into the zoo",
		Long: `Pull downloads an official PP-LCNet release and converts it into the zoo
under its catalog name. Interrupted downloads resume where they stopped
(partial files are kept in the store's downloads/ directory). A model that
is already in the zoo is not downloaded again.

The catalog has the PaddleClas ImageNet models PPLCNet_x0_25 ... PPLCNet_x2_5,
their SSLD-distilled versions PPLCNet_x0_5_ssld, PPLCNet_x1_0_ssld and
PPLCNet_x2_5_ssld, and the PaddleX models PP-LCNet_x0_25_textline_ori,
PP-LCNet_x1_0_textline_ori, PP-LCNet_x1_0_doc_ori and PP-LCNet_x1_0_table_cls.
Names are matched ignoring case and the hyphen in "PP-LCNet".

--mirror URL fetches the same file names from another server (for example
an internal mirror: URL/PPLCNet_x1_0_pretrained.pdparams).`,
		Example: `  lcnet pull PPLCNet_x1_0
  lcnet pull PP-LCNet_x1_0_doc_ori --dtype fp16
  lcnet pull --list
  lcnet pull PPLCNet_x2_5_ssld --mirror http://mirror.internal/paddle`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if list {
				if len(args) != 0 {
					return usagef("--list takes no NAME")
				}
				if asJSON {
					return writeJSON(a.stdout, pull.Catalog())
				}
				tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "NAME\tCLASSES\tINPUT\tHEAD\tDESCRIPTION")
				for _, e := range pull.Catalog() {
					head := "softmax"
					if e.MultiLabel {
						head = "multi-label"
					}
					fmt.Fprintf(tw, "%s\t%d\t%dx%d\t%s\t%s\n", e.Name, e.Classes, e.InputHeight, e.InputWidth, head, e.Description)
				}
				return tw.Flush()
			}
			if len(args) != 1 {
				return usagef("want one NAME (see 'lcnet pull --list'), got %d argument(s)", len(args))
			}
			entry, err := pull.Lookup(args[0])
			if err != nil {
				return usageError{err}
			}
			dt, err := parseDType(dtype)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			z, err := openZoo(ctx, store)
			if err != nil {
				return err
			}
			if _, err := z.Resolve(ctx, entry.Name, version); err == nil {
				fmt.Fprintf(a.stderr, "%s is already in the zoo; not downloading it again\n", entry.Name)
			}
			p := pull.New(z, pull.Options{Mirror: mirror, CacheDir: downloadDir(store), DType: dt})
			bar := newProgressBar(a.stderr, "pulling "+args[0])
			m, err := p.PullRequest(ctx, pull.Request{Name: args[0], Version: version, DType: dt}, bar.Update)
			bar.Done()
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(a.stdout, m)
			}
			fmt.Fprintf(a.stdout, "%s:%s\n%s\n", m.Name, m.Version, summary(m))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&mirror, "mirror", a.getenv("LCNET_MIRROR"), "base URL serving the catalog's files instead of the official sites (env LCNET_MIRROR)")
	f.StringVar(&version, "version", "", "zoo version to create (default: the next number)")
	f.StringVar(&dtype, "dtype", "fp32", "weight storage type: fp32 or fp16")
	f.BoolVar(&list, "list", false, "list the models that can be pulled")
	f.BoolVar(&asJSON, "json", false, "print JSON (the manifest, or the catalog with --list)")
	a.storeFlag(cmd, &store)
	return cmd
}
