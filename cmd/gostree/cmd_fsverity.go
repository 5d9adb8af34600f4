package main

import (
	"encoding/hex"
	"fmt"
	"os"
	"runtime"
	"sync"

	"github.com/spf13/cobra"

	"github.com/gostree/gostree/fsverity"
)

type verityFlags struct {
	alg     string
	block   int
	salt    string
	compact bool
}

func (f *verityFlags) params() (*fsverity.Params, error) {
	p := &fsverity.Params{BlockSize: f.block}
	switch f.alg {
	case "", "sha256":
		p.Algorithm = fsverity.SHA256
	case "sha512":
		p.Algorithm = fsverity.SHA512
	default:
		return nil, usagef("unknown hash algorithm %q (want sha256 or sha512)", f.alg)
	}
	if f.salt != "" {
		s, err := hex.DecodeString(f.salt)
		if err != nil {
			return nil, usagef("invalid salt %q: want hex", f.salt)
		}
		p.Salt = s
	}
	return p, nil
}

func (f *verityFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.alg, "hash-alg", "sha256", "hash algorithm: sha256 or sha512")
	cmd.Flags().IntVar(&f.block, "block-size", 4096, "Merkle tree block size in bytes")
	cmd.Flags().StringVar(&f.salt, "salt", "", "salt, in hex")
}

func newFsverityCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{Use: "fsverity", Short: "Compute, enable and measure fs-verity digests"}
	df := &verityFlags{}
	digest := &cobra.Command{
		Use:   "digest FILE...",
		Short: "Compute the fs-verity digest of files (like `fsverity digest`)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := df.params()
			if err != nil {
				return err
			}
			// Digest files in parallel, print in argument order.
			out := make([]string, len(args))
			errs := make([]error, len(args))
			sem := make(chan struct{}, runtime.GOMAXPROCS(0))
			var wg sync.WaitGroup
			for i, name := range args {
				wg.Add(1)
				sem <- struct{}{}
				go func() {
					defer wg.Done()
					defer func() { <-sem }()
					d, err := fsverity.DigestFile(name, p)
					if err != nil {
						errs[i] = err
						return
					}
					if df.compact {
						out[i] = hex.EncodeToString(d)
					} else {
						out[i] = fmt.Sprintf("%s:%x %s", p.Algorithm, d, name)
					}
				}()
			}
			wg.Wait()
			for i := range args {
				if errs[i] != nil {
					return errs[i]
				}
				fmt.Fprintln(a.stdout, out[i])
			}
			return nil
		},
	}
	df.add(digest)
	digest.Flags().BoolVar(&df.compact, "compact", false, "print only the hex digest")

	ef := &verityFlags{}
	enable := &cobra.Command{
		Use:   "enable FILE",
		Short: "Enable kernel fs-verity on a file",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := ef.params()
			if err != nil {
				return err
			}
			f, err := os.Open(args[0])
			if err != nil {
				return err
			}
			defer f.Close()
			return fsverity.Enable(f, p)
		},
	}
	ef.add(enable)

	measure := &cobra.Command{
		Use:   "measure FILE...",
		Short: "Print the kernel's fs-verity digest of files",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			for _, name := range args {
				f, err := os.Open(name)
				if err != nil {
					return err
				}
				alg, d, err := fsverity.Measure(f)
				f.Close()
				if err != nil {
					return fmt.Errorf("measure %s: %w", name, err)
				}
				fmt.Fprintf(a.stdout, "%s:%x %s\n", alg, d, name)
			}
			return nil
		},
	}
	cmd.AddCommand(digest, enable, measure)
	return cmd
}
