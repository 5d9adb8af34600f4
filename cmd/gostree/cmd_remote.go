package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gostree/gostree/objstore"
	"github.com/gostree/gostree/objstore/gpgverify"
	"github.com/gostree/gostree/objstore/pull"
)

// systemRemotesDir is where ostree keeps the remotes of the system
// repository.
const systemRemotesDir = "/etc/ostree/remotes.d"

// remotesOptions returns where the remotes of repo are configured: the
// config, plus /etc/ostree/remotes.d for the system repository (as ostree
// does), or the directory given with --remotes-dir.
func (a *app) remotesOptions(repo *objstore.Repo, dir string) objstore.RemotesOptions {
	if dir != "" {
		return objstore.RemotesOptions{Dir: dir}
	}
	switch filepath.Clean(repo.Path()) {
	case "/ostree/repo", "/sysroot/ostree/repo":
		return objstore.RemotesOptions{Dir: systemRemotesDir}
	}
	return objstore.RemotesOptions{}
}

func newRemoteCmd(a *app) *cobra.Command {
	var remotesDir string
	cmd := &cobra.Command{
		Use:   "remote",
		Short: "Add, list, delete and inspect remote repositories",
	}
	cmd.PersistentFlags().StringVar(&remotesDir, "remotes-dir", "", "also read remotes from this remotes.d directory (default "+systemRemotesDir+" for the system repository)")
	open := func() (*objstore.Repo, objstore.RemotesOptions, error) {
		repo, err := a.openRepo()
		if err != nil {
			return nil, objstore.RemotesOptions{}, err
		}
		return repo, a.remotesOptions(repo, remotesDir), nil
	}
	cmd.AddCommand(newRemoteAddCmd(a, open), newRemoteDeleteCmd(a, open), newRemoteListCmd(a, open),
		newRemoteShowURLCmd(a, open), newRemoteRefsCmd(a, open), newRemoteSummaryCmd(a, open), newRemoteGPGImportCmd(a, open))
	return cmd
}

type openRemotes func() (*objstore.Repo, objstore.RemotesOptions, error)

func newRemoteAddCmd(a *app, open openRemotes) *cobra.Command {
	var o objstore.AddRemoteOptions
	var sets, signVerify []string
	var noSignVerify bool
	var gpgImport string
	cmd := &cobra.Command{
		Use:   "add [--no-gpg-verify] [--gpg-import=FILE] [--set=KEY=VALUE]... NAME URL [BRANCH...]",
		Short: "Add a remote repository",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) < 2 {
				return usagef("remote add: NAME and URL must be specified")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			repo, ro, err := open()
			if err != nil {
				return err
			}
			if o.IfNotExists && o.Force {
				return usagef("remote add: only one of --if-not-exists and --force")
			}
			for _, s := range sets {
				k, v, ok := strings.Cut(s, "=")
				if !ok || k == "" {
					return usagef("remote add: --set needs KEY=VALUE, got %q", s)
				}
				o.Settings = append(o.Settings, objstore.RemoteSetting{Key: k, Value: v})
			}
			var types []string
			for _, spec := range signVerify {
				// ostree's --sign-verify=KEYTYPE=inline:PUBKEY|file:PATH
				typ, rest, ok := strings.Cut(spec, "=")
				how, val, ok2 := strings.Cut(rest, ":")
				if !ok || !ok2 || typ != "ed25519" || how != "inline" && how != "file" {
					return usagef("remote add: --sign-verify needs ed25519=inline:PUBKEY or ed25519=file:PATH, got %q", spec)
				}
				key := "verification-ed25519-key"
				if how == "file" {
					key = "verification-ed25519-file"
				}
				o.Settings = append(o.Settings, objstore.RemoteSetting{Key: key, Value: val})
				types = append(types, typ)
			}
			switch {
			case noSignVerify && len(types) > 0:
				return usagef("remote add: --sign-verify and --no-sign-verify are exclusive")
			case noSignVerify:
				o.NoGPGVerify = true
				o.Settings = append(o.Settings, objstore.RemoteSetting{Key: "sign-verify", Value: "false"})
			case len(types) > 0:
				o.Settings = append(o.Settings, objstore.RemoteSetting{Key: "sign-verify", Value: strings.Join(types, ",")})
			}
			o.RemotesOptions = ro
			o.Branches = args[2:]
			if ro.Dir != "" {
				in, err := repo.Config().Bool("core", "add-remotes-config-dir", true)
				if err != nil {
					return err
				}
				o.InDir = in
			}
			if err := repo.AddRemote(args[0], args[1], &o); err != nil {
				return err
			}
			if gpgImport == "" {
				return nil
			}
			return importGPGKeys(a, repo, args[0], []string{gpgImport}, nil, nil)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&o.NoGPGVerify, "no-gpg-verify", false, "disable GPG verification")
	f.StringVar(&gpgImport, "gpg-import", "", "import GPG keys from FILE (a keyring, binary or armored) for this remote")
	f.StringArrayVar(&signVerify, "sign-verify", nil, "verify ed25519 signatures with ed25519=inline:PUBKEY (base64) or ed25519=file:PATH")
	f.BoolVar(&noSignVerify, "no-sign-verify", false, "disable all signature verification (GPG and sign-verify)")
	f.StringArrayVar(&sets, "set", nil, "set config option KEY=VALUE for the remote")
	f.StringVar(&o.ContentURL, "contenturl", "", "use URL when fetching content")
	f.StringVar(&o.CollectionID, "collection-id", "", "globally unique ID of the remote's collection of refs")
	f.BoolVar(&o.IfNotExists, "if-not-exists", false, "do nothing if the remote exists")
	f.BoolVar(&o.Force, "force", false, "replace the remote if it exists")
	return cmd
}

func newRemoteDeleteCmd(a *app, open openRemotes) *cobra.Command {
	var ifExists bool
	cmd := &cobra.Command{
		Use:   "delete [--if-exists] NAME",
		Short: "Delete a remote repository (its pulled refs stay)",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			repo, ro, err := open()
			if err != nil {
				return err
			}
			return repo.DeleteRemote(args[0], &objstore.DeleteRemoteOptions{RemotesOptions: ro, IfExists: ifExists})
		},
	}
	cmd.Flags().BoolVar(&ifExists, "if-exists", false, "do nothing if the remote does not exist")
	return cmd
}

func newRemoteListCmd(a *app, open openRemotes) *cobra.Command {
	var urls bool
	cmd := &cobra.Command{
		Use:   "list [-u]",
		Short: "List remote repositories",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			repo, ro, err := open()
			if err != nil {
				return err
			}
			remotes, err := repo.Remotes(&ro)
			if err != nil {
				return err
			}
			width := 0
			for _, rm := range remotes {
				width = max(width, len(rm.Name))
			}
			for _, rm := range remotes {
				if !urls {
					fmt.Fprintln(a.stdout, rm.Name)
					continue
				}
				if rm.URL == "" {
					return fmt.Errorf("no \"url\" option in remote %q", rm.Name)
				}
				fmt.Fprintf(a.stdout, "%-*s  %s\n", width, rm.Name, rm.URL)
			}
			return nil
		},
	}
	cmd.Flags().BoolVarP(&urls, "show-urls", "u", false, "show remote URLs in the list")
	return cmd
}

func newRemoteShowURLCmd(a *app, open openRemotes) *cobra.Command {
	return &cobra.Command{
		Use:   "show-url NAME",
		Short: "Show the URL of a remote repository",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			repo, ro, err := open()
			if err != nil {
				return err
			}
			rm, err := repo.Remote(args[0], &ro)
			if err != nil {
				return err
			}
			if rm.URL == "" {
				return fmt.Errorf("no \"url\" option in remote %q", rm.Name)
			}
			fmt.Fprintln(a.stdout, rm.URL)
			return nil
		},
	}
}

func newRemoteRefsCmd(a *app, open openRemotes) *cobra.Command {
	return &cobra.Command{
		Use:   "refs NAME",
		Short: "List the refs of a remote repository (from its summary)",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			repo, ro, err := open()
			if err != nil {
				return err
			}
			s, _, err := pull.FetchSummary(cmd.Context(), repo, args[0], &pull.Options{Logger: a.logger(), Remotes: ro})
			if err != nil {
				return err
			}
			for _, r := range s.Refs {
				fmt.Fprintf(a.stdout, "%s:%s\n", args[0], r.Name)
			}
			return nil
		},
	}
}

func newRemoteSummaryCmd(a *app, open openRemotes) *cobra.Command {
	var raw bool
	cmd := &cobra.Command{
		Use:   "summary [--raw] NAME",
		Short: "Show the summary of a remote repository",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			repo, ro, err := open()
			if err != nil {
				return err
			}
			s, data, err := pull.FetchSummary(cmd.Context(), repo, args[0], &pull.Options{Logger: a.logger(), Remotes: ro})
			if err != nil {
				return err
			}
			return writeSummary(a.stdout, s, data, raw)
		},
	}
	cmd.Flags().BoolVar(&raw, "raw", false, "show the raw GVariant")
	return cmd
}

func newRemoteGPGImportCmd(a *app, open openRemotes) *cobra.Command {
	var keyrings []string
	var stdin bool
	cmd := &cobra.Command{
		Use:   "gpg-import NAME [-k KEYRING]... [--stdin] [KEY-ID...]",
		Short: "Import GPG keys",
		Long: `Import public keys into the remote's keyring (REPO/NAME.trustedkeys.gpg),
which pulls with gpg-verify check commits (and summaries) against: all keys of
the keyrings given (binary or ASCII-armored), or only the KEY-IDs listed.`,
		Args: minArgs(1, "remote gpg-import: NAME must be specified"),
		RunE: func(cmd *cobra.Command, args []string) error {
			repo, ro, err := open()
			if err != nil {
				return err
			}
			if _, err := repo.Remote(args[0], &ro); err != nil {
				return err
			}
			if len(keyrings) == 0 && !stdin {
				return usagef("remote gpg-import: give --keyring=FILE or --stdin (gostree has no GnuPG keyring of its own to take keys from)")
			}
			var in io.Reader
			if stdin {
				in = cmd.InOrStdin()
			}
			return importGPGKeys(a, repo, args[0], keyrings, in, args[1:])
		},
	}
	cmd.Flags().StringArrayVarP(&keyrings, "keyring", "k", nil, "import keys from a keyring file (repeatable)")
	cmd.Flags().BoolVar(&stdin, "stdin", false, "import keys from standard input")
	return cmd
}

// importGPGKeys adds keys to REPO/NAME.trustedkeys.gpg and reports it as
// ostree does.
func importGPGKeys(a *app, repo *objstore.Repo, remote string, files []string, stdin io.Reader, keyIDs []string) error {
	dst := filepath.Join(repo.Path(), remote+".trustedkeys.gpg")
	total := 0
	var sources []io.Reader
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		sources = append(sources, bytes.NewReader(data))
	}
	if stdin != nil {
		sources = append(sources, stdin)
	}
	for _, src := range sources {
		n, err := gpgverify.Import(dst, src, keyIDs)
		if err != nil {
			return fmt.Errorf("import GPG keys for remote %s: %w", remote, err)
		}
		total += n
	}
	noun := "keys"
	if total == 1 {
		noun = "key"
	}
	fmt.Fprintf(a.stdout, "Imported %d GPG %s to remote \"%s\"\n", total, noun, remote)
	return nil
}
