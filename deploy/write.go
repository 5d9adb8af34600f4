package deploy

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/gostree/gostree/objstore"
)

// Steps of a boot configuration change, in order, as passed to Options.Hook.
const (
	StepEntries = "entries" // new loader.B'/entries written
	StepFarm    = "farm"    // new ostree/boot.B'.S' links and boot.B' swapped
	StepPins    = "pins"    // new pin refs written
	StepSync    = "sync"    // everything synced to disk
	StepSwap    = "swap"    // boot/loader now points to loader.B'
	StepCleanup = "cleanup" // old configuration, deployments and kernels removed
)

func (s *Sysroot) hook(step string) error {
	if s.opts.Hook == nil {
		return nil
	}
	if err := s.opts.Hook(step); err != nil {
		return fmt.Errorf("at step %s: %w", step, err)
	}
	return nil
}

// writeDeployments makes deps the boot configuration, in order (index 0 is
// the default). It follows ostree's bootversion swap: everything for the
// new bootversion is written and synced beside the current configuration,
// then boot/loader is replaced by one rename.
func (s *Sysroot) writeDeployments(ctx context.Context, deps []*Deployment) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	oldB, err := s.BootVersion()
	if err != nil {
		return err
	}
	newB := 1 - oldB
	curS, err := s.subBootVersion(newB)
	if err != nil {
		return err
	}
	newS := 1 - curS
	// Boot serials: index among the deployments sharing a boot checksum.
	seen := map[string]int{}
	osnames := map[string]bool{}
	for i, d := range deps {
		d.Index = i
		key := d.OSName + "/" + d.BootCsum
		d.BootSerial = seen[key]
		seen[key]++
		osnames[d.OSName] = true
	}
	// 1. entries
	loaderDir := filepath.Join(s.path, "boot", fmt.Sprintf("loader.%d", newB))
	if err := os.RemoveAll(loaderDir); err != nil {
		return fmt.Errorf("remove stale %s: %w", loaderDir, err)
	}
	entries := filepath.Join(loaderDir, "entries")
	if err := os.MkdirAll(entries, 0o755); err != nil {
		return err
	}
	for _, d := range deps {
		n := len(deps) - d.Index
		e := &blsEntry{}
		e.add("title", d.entryTitle(len(osnames) > 1))
		e.add("version", fmt.Sprint(n))
		opts := append(append([]string{}, d.Kargs...), fmt.Sprintf("ostree=/ostree/boot.%d/%s/%s/%d", newB, d.OSName, d.BootCsum, d.BootSerial))
		e.add("options", strings.Join(opts, " "))
		if d.Linux != "" {
			e.add("linux", d.Linux)
		}
		if d.Initrd != "" {
			e.add("initrd", d.Initrd)
		}
		name := fmt.Sprintf("ostree-%d-%s.conf", n, d.OSName)
		if err := objstore.WriteFileAtomic(filepath.Join(entries, name), []byte(e.String()), 0o644); err != nil {
			return fmt.Errorf("write boot entry: %w", err)
		}
	}
	if err := s.hook(StepEntries); err != nil {
		return err
	}
	// 2. the boot link farm, then swap ostree/boot.B' to it
	farmName := fmt.Sprintf("boot.%d.%d", newB, newS)
	farm := filepath.Join(s.path, "ostree", farmName)
	if err := os.RemoveAll(farm); err != nil {
		return err
	}
	for _, d := range deps {
		dir := filepath.Join(farm, d.OSName, d.BootCsum)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		target := filepath.Join("..", "..", "..", "deploy", d.OSName, "deploy", d.Name())
		if err := os.Symlink(target, filepath.Join(dir, fmt.Sprint(d.BootSerial))); err != nil {
			return fmt.Errorf("boot link: %w", err)
		}
	}
	if err := replaceSymlink(farmName, filepath.Join(s.path, "ostree", fmt.Sprintf("boot.%d", newB))); err != nil {
		return err
	}
	if err := s.hook(StepFarm); err != nil {
		return err
	}
	// 3. pins, so the repository keeps every deployed commit
	for _, d := range deps {
		id := d.Commit
		if err := s.repo.SetRef(ctx, fmt.Sprintf("ostree/%d/%d/%d", newB, newS, d.Index), &id); err != nil {
			return err
		}
	}
	if err := s.hook(StepPins); err != nil {
		return err
	}
	// 4. durability, then the atomic switch
	if err := syncFS(s.path); err != nil {
		return err
	}
	if err := syncFS(filepath.Join(s.path, "boot")); err != nil {
		return err
	}
	if err := s.hook(StepSync); err != nil {
		return err
	}
	if err := replaceSymlink(fmt.Sprintf("loader.%d", newB), filepath.Join(s.path, "boot", "loader")); err != nil {
		return err
	}
	if err := s.hook(StepSwap); err != nil {
		return err
	}
	// 5. cleanup of the old configuration
	return s.cleanupBoot(ctx, deps)
}

// cleanupBoot removes what the current configuration does not use: the other
// bootversion's loader and farms, stale pins, deployment directories and
// kernel directories.
func (s *Sysroot) cleanupBoot(ctx context.Context, deps []*Deployment) error {
	b, err := s.BootVersion()
	if err != nil {
		return err
	}
	sb, err := s.subBootVersion(b)
	if err != nil {
		return err
	}
	old := 1 - b
	if err := os.RemoveAll(filepath.Join(s.path, "boot", fmt.Sprintf("loader.%d", old))); err != nil {
		return err
	}
	os.Remove(filepath.Join(s.path, "boot", "loader.tmp"))
	if err := os.Remove(filepath.Join(s.path, "ostree", fmt.Sprintf("boot.%d", old))); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	for bv := 0; bv < 2; bv++ {
		for sv := 0; sv < 2; sv++ {
			if bv == b && sv == sb {
				continue
			}
			if err := os.RemoveAll(filepath.Join(s.path, "ostree", fmt.Sprintf("boot.%d.%d", bv, sv))); err != nil {
				return err
			}
		}
	}
	// pins of other configurations
	refs, err := s.repo.Refs(ctx)
	if err != nil {
		return err
	}
	prefix := fmt.Sprintf("ostree/%d/%d/", b, sb)
	for name := range refs {
		if strings.HasPrefix(name, "ostree/") && !strings.HasPrefix(name, prefix) && strings.Count(name, "/") == 3 {
			if err := s.repo.SetRef(ctx, name, nil); err != nil {
				return err
			}
		}
		if strings.HasPrefix(name, prefix) {
			var i int
			if _, err := fmt.Sscanf(strings.TrimPrefix(name, prefix), "%d", &i); err == nil && i >= len(deps) {
				if err := s.repo.SetRef(ctx, name, nil); err != nil {
					return err
				}
			}
		}
	}
	// deployment directories and kernels no deployment uses
	used := map[string]bool{}
	kernels := map[string]bool{}
	for _, d := range deps {
		used[filepath.Join(s.path, d.RelDir())] = true
		kernels[d.OSName+"-"+d.BootCsum] = true
	}
	osdirs, _ := os.ReadDir(filepath.Join(s.path, "ostree", "deploy"))
	for _, o := range osdirs {
		dir := filepath.Join(s.path, "ostree", "deploy", o.Name(), "deploy")
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			p := filepath.Join(dir, e.Name())
			name := strings.TrimSuffix(e.Name(), ".origin")
			if used[filepath.Join(dir, name)] {
				continue
			}
			if err := removeTree(p); err != nil {
				return fmt.Errorf("remove unused deployment %s: %w", e.Name(), err)
			}
		}
	}
	kdirs, _ := os.ReadDir(filepath.Join(s.path, "boot", "ostree"))
	for _, k := range kdirs {
		if !kernels[k.Name()] {
			if err := os.RemoveAll(filepath.Join(s.path, "boot", "ostree", k.Name())); err != nil {
				return err
			}
		}
	}
	return s.hook(StepCleanup)
}

// removeTree deletes a deployment directory, including files an immutable
// root may have made read-only.
func removeTree(p string) error {
	err := os.RemoveAll(p)
	if err == nil {
		return nil
	}
	filepath.WalkDir(p, func(q string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			os.Chmod(q, 0o700)
		}
		return nil
	})
	return os.RemoveAll(p)
}

// replaceSymlink points link at target atomically (symlink a temp name, rename).
func replaceSymlink(target, link string) error {
	tmp := link + ".tmp"
	os.Remove(tmp)
	if err := os.Symlink(target, tmp); err != nil {
		return fmt.Errorf("symlink %s: %w", link, err)
	}
	if err := os.Rename(tmp, link); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("replace %s: %w", link, err)
	}
	d, err := os.Open(filepath.Dir(link))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

func syncFS(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := unix.Syncfs(int(f.Fd())); err != nil {
		return fmt.Errorf("syncfs %s: %w", dir, err)
	}
	return nil
}

// entryTitle is the BLS title: os-release's PRETTY_NAME, the commit
// version if the name lacks it, and "(ostree[:OS]:INDEX)".
func (d *Deployment) entryTitle(multiOS bool) string {
	t := d.Title
	if t == "" {
		t = d.OSName
	}
	// Deployments loaded from entries carry the old title; rebuild its suffix.
	if i := strings.LastIndex(t, " (ostree"); i >= 0 {
		t = t[:i]
	}
	if multiOS {
		return fmt.Sprintf("%s (ostree:%s:%d)", t, d.OSName, d.Index)
	}
	return fmt.Sprintf("%s (ostree:%d)", t, d.Index)
}
