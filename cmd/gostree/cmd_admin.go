package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gostree/gostree/composefs"
	"github.com/gostree/gostree/deploy"
	"github.com/gostree/gostree/initramfs"
	"github.com/gostree/gostree/keyfile"
)

type adminFlags struct {
	sysroot string
}

func (a *app) openSysroot(f *adminFlags) (*deploy.Sysroot, error) {
	return deploy.Open(f.sysroot, &deploy.Options{Logger: a.logger(), WriteImage: composefs.WriteCommit, BuildInitramfs: a.buildInitramfs})
}

// sysrootDeployments opens the sysroot and reads its deployments.
func (a *app) sysrootDeployments(f *adminFlags) (*deploy.Sysroot, []*deploy.Deployment, error) {
	s, err := a.openSysroot(f)
	if err != nil {
		return nil, nil, err
	}
	deps, err := s.Deployments()
	return s, deps, err
}

// buildInitramfs makes an initramfs around the prepare-root helper for a
// commit that ships none (the helper is found next to this binary or in
// /usr/lib/gostree; see `gostree initramfs build`). Its modules are stored
// decompressed: the boot skips the kernel's decompression of each one
// (~170 ms of 11 modules under emulation, bench/RESULTS.md), for ~3 MB more
// memory until the switch to the root.
func (a *app) buildInitramfs(ctx context.Context, modules fs.FS, kver string, w io.Writer) error {
	exe, _ := os.Executable()
	helper, err := initramfs.FindHelper(exe)
	if err != nil {
		return err
	}
	if _, err := fs.Stat(modules, "modules.dep"); err != nil {
		// A tree without depmod output: an initramfs with no modules,
		// for kernels that have what they need built in.
		fmt.Fprintf(a.stderr, "warning: usr/lib/modules/%s has no modules.dep; the initramfs gets no kernel modules\n", kver)
		modules = nil
	}
	_, err = initramfs.Build(ctx, w, &initramfs.Options{KVer: kver, ModuleDir: modules, Helper: helper,
		Compression: initramfs.Zstd, DecompressModules: true, Logger: a.logger()})
	return err
}

func newAdminCmd(a *app) *cobra.Command {
	f := &adminFlags{}
	cmd := &cobra.Command{Use: "admin", Short: "Manage a sysroot's deployments (like ostree admin)"}
	cmd.PersistentFlags().StringVar(&f.sysroot, "sysroot", "/", "the sysroot to manage")
	cmd.AddCommand(
		&cobra.Command{
			Use: "init-fs PATH", Short: "Initialize a root filesystem", Args: exactArgs(1),
			RunE: func(c *cobra.Command, args []string) error { return deploy.InitFS(c.Context(), args[0]) },
		},
		&cobra.Command{
			Use: "os-init OS", Aliases: []string{"stateroot-init"}, Short: "Initialize empty state for an operating system", Args: exactArgs(1),
			RunE: func(c *cobra.Command, args []string) error {
				s, err := a.openSysroot(f)
				if err != nil {
					return err
				}
				if err := s.OSInit(args[0]); err != nil {
					return err
				}
				fmt.Fprintf(a.stdout, "ostree/deploy/%s initialized as OSTree root\n", args[0])
				return nil
			},
		},
		newAdminDeployCmd(a, f), newAdminStatusCmd(a, f), newAdminUpgradeCmd(a, f), newAdminSwitchCmd(a, f),
		indexCmd(a, f, "undeploy INDEX", "Delete deployment INDEX", func(c *cobra.Command, s *deploy.Sysroot, i int) error {
			if err := s.Undeploy(c.Context(), i); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "Deleted deployment %d\n", i)
			return nil
		}),
		indexCmd(a, f, "set-default INDEX", "Make deployment INDEX the default", func(c *cobra.Command, s *deploy.Sysroot, i int) error {
			return s.SetDefault(c.Context(), i)
		}),
		newAdminPinCmd(a, f),
		&cobra.Command{
			Use: "rollback", Short: "Make the previous deployment the default", Args: exactArgs(0),
			RunE: func(c *cobra.Command, _ []string) error {
				s, err := a.openSysroot(f)
				if err != nil {
					return err
				}
				d, err := s.Rollback(c.Context())
				if err != nil {
					return err
				}
				fmt.Fprintf(a.stdout, "Rolled back: %s %s is now the default\n", d.OSName, d.Name())
				return nil
			},
		},
		&cobra.Command{
			Use: "cleanup", Short: "Delete unused deployments and repository objects", Args: exactArgs(0),
			RunE: func(c *cobra.Command, _ []string) error {
				s, err := a.openSysroot(f)
				if err != nil {
					return err
				}
				st, err := s.Cleanup(c.Context())
				if err != nil {
					return err
				}
				fmt.Fprintf(a.stdout, "Freed objects: %d (%d bytes)\n", st.Objects, st.Bytes)
				return nil
			},
		},
		newAdminConfigDiffCmd(a, f), newAdminKargsCmd(a, f),
	)
	return cmd
}

// deploy runs a deployment and reports it.
func (a *app) deploy(c *cobra.Command, s *deploy.Sysroot, opts *deploy.DeployOptions) error {
	d, err := s.Deploy(c.Context(), opts)
	if err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "Deployed %s %s\n", d.OSName, d.Name())
	return nil
}

func indexCmd(a *app, f *adminFlags, use, short string, fn func(*cobra.Command, *deploy.Sysroot, int) error) *cobra.Command {
	return &cobra.Command{
		Use: use, Short: short, Args: exactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			i, err := strconv.Atoi(args[0])
			if err != nil {
				return usagef("invalid index %q", args[0])
			}
			s, err := a.openSysroot(f)
			if err != nil {
				return err
			}
			return fn(c, s, i)
		},
	}
}

func newAdminPinCmd(a *app, f *adminFlags) *cobra.Command {
	var unpin bool
	cmd := indexCmd(a, f, "pin [-u] INDEX", "Change the pinning state of a deployment", func(c *cobra.Command, s *deploy.Sysroot, i int) error {
		if err := s.Pin(i, !unpin); err != nil {
			return err
		}
		state := "pinned"
		if unpin {
			state = "unpinned"
		}
		fmt.Fprintf(a.stdout, "Deployment %d is now %s\n", i, state)
		return nil
	})
	cmd.Flags().BoolVarP(&unpin, "unpin", "u", false, "unset pin")
	return cmd
}

func newAdminDeployCmd(a *app, f *adminFlags) *cobra.Command {
	opts := &deploy.DeployOptions{}
	var kargs []string
	var originFile string
	cmd := &cobra.Command{
		Use: "deploy [OPTION...] REFSPEC", Short: "Deploy a revision as the new default", Args: exactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			s, err := a.openSysroot(f)
			if err != nil {
				return err
			}
			opts.Revision = args[0]
			if c.Flags().Changed("karg") {
				opts.Kargs = kargs
			}
			if originFile != "" {
				data, err := os.ReadFile(originFile)
				if err != nil {
					return err
				}
				if opts.Origin, err = keyfile.ParseBytes(data); err != nil {
					return fmt.Errorf("origin file: %w", err)
				}
			}
			return a.deploy(c, s, opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.OSName, "os", "", "use a different operating system root than the current one")
	fl.StringArrayVar(&kargs, "karg", nil, "set kernel argument, like root=/dev/sda1; this overrides any earlier argument with the same name")
	fl.StringArrayVar(&opts.KargsAppend, "karg-append", nil, "append kernel argument")
	fl.BoolVar(&opts.KargsProcCmdline, "karg-proc-cmdline", false, "import current /proc/cmdline")
	fl.BoolVar(&opts.Retain, "retain", false, "do not delete previous deployments")
	fl.BoolVar(&opts.NotAsDefault, "not-as-default", false, "do not make the new deployment the default")
	fl.StringVar(&originFile, "origin-file", "", "specify origin file")
	return cmd
}

type statusJSON struct {
	Index     int      `json:"index"`
	Stateroot string   `json:"stateroot"`
	Checksum  string   `json:"checksum"`
	Serial    int      `json:"serial"`
	Booted    bool     `json:"booted"`
	Pending   bool     `json:"pending"`
	Rollback  bool     `json:"rollback"`
	Pinned    bool     `json:"pinned"`
	Version   string   `json:"version,omitempty"`
	Origin    string   `json:"origin,omitempty"`
	Kargs     []string `json:"kargs"`
}

func newAdminStatusCmd(a *app, f *adminFlags) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use: "status", Short: "List deployments", Args: exactArgs(0),
		RunE: func(c *cobra.Command, _ []string) error {
			_, deps, err := a.sysrootDeployments(f)
			if err != nil {
				return err
			}
			booted := -1
			for _, d := range deps {
				if d.Booted {
					booted = d.Index
				}
			}
			var out []statusJSON
			for _, d := range deps {
				st := statusJSON{Index: d.Index, Stateroot: d.OSName, Checksum: d.Commit.String(), Serial: d.Serial,
					Booted: d.Booted, Pending: booted >= 0 && d.Index < booted, Rollback: booted >= 0 && d.Index > booted,
					Pinned: d.Pinned(), Version: d.Version, Origin: d.Refspec(), Kargs: d.Kargs}
				if st.Kargs == nil {
					st.Kargs = []string{}
				}
				out = append(out, st)
			}
			if asJSON {
				enc := json.NewEncoder(a.stdout)
				enc.SetIndent("", "  ")
				if out == nil {
					out = []statusJSON{}
				}
				return enc.Encode(map[string]any{"deployments": out})
			}
			if len(deps) == 0 {
				fmt.Fprintln(a.stdout, "No deployments.")
				return nil
			}
			for _, st := range out {
				mark := "  "
				if st.Booted {
					mark = "* "
				}
				suffix := ""
				switch {
				case st.Pending:
					suffix = " (pending)"
				case st.Rollback:
					suffix = " (rollback)"
				}
				fmt.Fprintf(a.stdout, "%s%s %s.%d%s\n", mark, st.Stateroot, st.Checksum, st.Serial, suffix)
				if st.Version != "" {
					fmt.Fprintf(a.stdout, "    Version: %s\n", st.Version)
				}
				if st.Pinned {
					fmt.Fprintln(a.stdout, "    Pinned: yes")
				}
				if st.Origin != "" {
					fmt.Fprintf(a.stdout, "    origin refspec: %s\n", st.Origin)
				} else {
					fmt.Fprintln(a.stdout, "    origin: none")
				}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "output JSON")
	return cmd
}

func newAdminConfigDiffCmd(a *app, f *adminFlags) *cobra.Command {
	var osname string
	cmd := &cobra.Command{
		Use: "config-diff", Short: "Diff current /etc configuration versus default", Args: exactArgs(0),
		RunE: func(c *cobra.Command, _ []string) error {
			s, deps, err := a.sysrootDeployments(f)
			if err != nil {
				return err
			}
			d := deploy.MergeDeployment(deps, osname)
			if osname == "" && len(deps) > 0 {
				d = deploy.MergeDeployment(deps, deps[0].OSName)
			}
			if d == nil {
				return fmt.Errorf("no deployment to compare")
			}
			changes, err := s.ConfigDiff(c.Context(), d)
			if err != nil {
				return err
			}
			for _, ch := range changes {
				fmt.Fprintln(a.stdout, ch)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&osname, "os", "", "use a different operating system root than the current one")
	return cmd
}

func newAdminKargsCmd(a *app, f *adminFlags) *cobra.Command {
	var add, del []string
	edit := &cobra.Command{
		Use: "edit-in-place", Short: "Modify the kernel arguments of all deployments", Args: exactArgs(0),
		RunE: func(c *cobra.Command, _ []string) error {
			if len(add) == 0 && len(del) == 0 {
				return usagef("give --append=KARG or --delete=KARG")
			}
			s, err := a.openSysroot(f)
			if err != nil {
				return err
			}
			return s.EditKargs(c.Context(), add, del)
		},
	}
	edit.Flags().StringArrayVar(&add, "append", nil, "append a kernel argument")
	edit.Flags().StringArrayVar(&add, "append-if-missing", nil, "append a kernel argument if not present")
	edit.Flags().StringArrayVar(&del, "delete", nil, "delete a kernel argument (KEY or KEY=VALUE)")
	cmd := &cobra.Command{Use: "kargs", Short: "Change kernel arguments"}
	cmd.AddCommand(edit)
	return cmd
}

func newAdminUpgradeCmd(a *app, f *adminFlags) *cobra.Command {
	var check bool
	var osname string
	up := &cobra.Command{
		Use: "upgrade", Short: "Deploy the newest commit of the default deployment's origin", Args: exactArgs(0),
		RunE: func(c *cobra.Command, _ []string) error {
			s, deps, err := a.sysrootDeployments(f)
			if err != nil {
				return err
			}
			if osname == "" && len(deps) > 0 {
				osname = deps[0].OSName
			}
			merge := deploy.MergeDeployment(deps, osname)
			if merge == nil || merge.Refspec() == "" {
				return fmt.Errorf("no deployment with an origin refspec to upgrade")
			}
			refspec := merge.Refspec()
			if strings.Contains(refspec, ":") {
				if err := a.pullForUpgrade(c, s, refspec, check); err != nil {
					return err
				}
			}
			id, err := s.Repo().ResolveRev(c.Context(), refspec)
			if err != nil {
				return err
			}
			if id == merge.Commit {
				fmt.Fprintln(a.stdout, "No update available.")
				return nil
			}
			if check {
				fmt.Fprintf(a.stdout, "Update available: %s -> %s\n", merge.Commit, id)
				return nil
			}
			return a.deploy(c, s, &deploy.DeployOptions{OSName: osname, Revision: refspec, Origin: merge.Origin})
		},
	}
	up.Flags().BoolVar(&check, "check", false, "only check whether an update is available")
	up.Flags().StringVar(&osname, "os", "", "use a different operating system root than the current one")
	return up
}

func newAdminSwitchCmd(a *app, f *adminFlags) *cobra.Command {
	var osname string
	cmd := &cobra.Command{
		Use: "switch REF", Short: "Deploy REF and make it the origin of future upgrades", Args: exactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			s, err := a.openSysroot(f)
			if err != nil {
				return err
			}
			if strings.Contains(args[0], ":") {
				if err := a.pullForUpgrade(c, s, args[0], false); err != nil {
					return err
				}
			}
			origin := keyfile.New()
			origin.Set("origin", "refspec", args[0])
			return a.deploy(c, s, &deploy.DeployOptions{OSName: osname, Revision: args[0], Origin: origin})
		},
	}
	cmd.Flags().StringVar(&osname, "os", "", "use a different operating system root than the current one")
	return cmd
}
