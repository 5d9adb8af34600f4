/*
 * baseline-init.c: the least an initramfs /init must do to boot a gostree
 * composefs deployment, for `BOOT_BASELINE=N scripts/boot-test.sh`, which
 * compares it with the Go helper (gostree-mount prepare-root) on the same
 * kernel, disk and VM. It does the helper's mounts in the same order with
 * no checks at all: no commit or image digest, no config, no error
 * messages beyond one line. What the helper takes beyond this is what the
 * helper itself adds to a boot.
 *
 * Steps: mount /dev, /proc, /sys, /run; load the modules in /mods in name order
 * (finit_module); wait for /dev/vda; mount it at /sysroot; resolve ostree=
 * under /sysroot; mount the deployment's .ostree.cfs (EROFS, from the file)
 * and the overlay with the repository's objects as data layer and
 * verity=require; bind /boot (when boot/loader is a symlink, as ostree
 * does), etc and the stateroot's var; move the physical root to
 * /sysroot/sysroot; move /dev, /proc, /sys, /run; delete the initramfs's
 * files (as switch_root does, to free their memory); switch root; exec
 * /sbin/init. It writes "baseline: <step>" to the kernel log, and before
 * the exec prints the kernel's "Run /init" record and its own, with their
 * times, on the console.
 *
 * Built by the boot test with: gcc -static -O2 -o init baseline-init.c
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <linux/reboot.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static int kmsg = -1;

static void mark(const char *step)
{
	char line[128];
	/* KERN_DEBUG: recorded, not printed on the console (which costs the
	 * helper nothing, so it must not cost this program either). */
	int n = snprintf(line, sizeof line, "<7>baseline: %s\n", step);
	if (write(kmsg, line, n) != n)
		printf("baseline: cannot write to /dev/kmsg: %s\n", strerror(errno));
}

static void die(const char *what)
{
	char msg[512];
	snprintf(msg, sizeof msg, "baseline: FAILED %s: %s", what, strerror(errno));
	dprintf(2, "%s\n", msg);
	/* The kernel prints the restart command whatever the log level. */
	syscall(SYS_reboot, LINUX_REBOOT_MAGIC1, LINUX_REBOOT_MAGIC2, LINUX_REBOOT_CMD_RESTART2, msg);
	_exit(1);
}

static void mnt(const char *src, const char *dst, const char *type, unsigned long flags, const char *data)
{
	if (mount(src, dst, type, flags, data) != 0)
		die(dst);
}

/* ostree= from the kernel command line. */
static void ostree_arg(char *out, size_t n)
{
	char buf[4096];
	int fd = open("/proc/cmdline", O_RDONLY);
	ssize_t r = fd < 0 ? -1 : read(fd, buf, sizeof buf - 1);
	if (r <= 0)
		die("/proc/cmdline");
	buf[r] = 0;
	for (char *p = strtok(buf, " \n"); p; p = strtok(NULL, " \n")) {
		if (strncmp(p, "ostree=", 7) == 0) {
			snprintf(out, n, "%s", p + 7);
			return;
		}
	}
	errno = ENOENT;
	die("ostree=");
}

/* Deletes what the directory fd holds on device dev, depth first, as
 * util-linux switch_root does; closes fd. */
static void remove_tree(int fd, dev_t dev)
{
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return;
	}
	struct dirent *e;
	while ((e = readdir(d))) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		struct stat st;
		if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || st.st_dev != dev)
			continue;
		if (S_ISDIR(st.st_mode)) {
			int sub = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub >= 0)
				remove_tree(sub, dev);
			unlinkat(dirfd(d), e->d_name, AT_REMOVEDIR);
		} else {
			unlinkat(dirfd(d), e->d_name, 0);
		}
	}
	closedir(d);
}

/* Prints the kernel log records of "Run /init" and of this program. */
static void print_records(void)
{
	char rec[1024];
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK);
	if (fd < 0)
		return;
	for (;;) {
		ssize_t r = read(fd, rec, sizeof rec - 1);
		if (r < 0 && errno == EPIPE)
			continue;
		if (r <= 0)
			break;
		rec[r] = 0;
		/* prio,seq,usec,flags;text */
		char *semi = strchr(rec, ';'), *c1 = strchr(rec, ','), *c2 = c1 ? strchr(c1 + 1, ',') : NULL;
		if (!semi || !c2)
			continue;
		char *text = semi + 1;
		if (strncmp(text, "Run /init", 9) != 0 && strncmp(text, "baseline: ", 10) != 0)
			continue;
		unsigned long long usec = strtoull(c2 + 1, NULL, 10);
		printf("[%llu.%06llu] %s", usec / 1000000, usec % 1000000, text);
	}
	close(fd);
	fflush(stdout);
}

int main(void)
{
	struct timespec t0;
	clock_gettime(CLOCK_BOOTTIME, &t0);
	mnt("devtmpfs", "/dev", "devtmpfs", 0, "mode=0755");
	kmsg = open("/dev/kmsg", O_WRONLY | O_CLOEXEC);
	char m0[64];
	snprintf(m0, sizeof m0, "main at %lld us", (long long)t0.tv_sec * 1000000 + t0.tv_nsec / 1000);
	mark(m0);
	int con = open("/dev/console", O_RDWR);
	if (con >= 0) {
		dup2(con, 0);
		dup2(con, 1);
		dup2(con, 2);
		if (con > 2)
			close(con);
	}
	mnt("proc", "/proc", "proc", 0, NULL);
	mnt("sysfs", "/sys", "sysfs", 0, NULL);
	mnt("tmpfs", "/run", "tmpfs", 0, "mode=0755");

	mark("modules start");
	struct dirent **ents;
	int n = scandir("/mods", &ents, NULL, alphasort);
	for (int i = 0; i < n; i++) {
		size_t len = strlen(ents[i]->d_name);
		if (len < 4 || strcmp(ents[i]->d_name + len - 3, ".ko") != 0)
			continue;
		char p[PATH_MAX];
		snprintf(p, sizeof p, "/mods/%s", ents[i]->d_name);
		int fd = open(p, O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			if (syscall(SYS_finit_module, fd, "", 0) != 0 && errno != EEXIST)
				die(p);
			close(fd);
		}
	}
	mark("modules done");
	struct stat st;
	while (stat("/dev/vda", &st) != 0)
		usleep(1000);
	mark("root device");

	mnt("/dev/vda", "/sysroot", "ext4", 0, NULL);
	mark("step root mounted");
	mnt("", "/", NULL, MS_REC | MS_PRIVATE, NULL);
	char arg[PATH_MAX], link[PATH_MAX + 16], dep[PATH_MAX], p[PATH_MAX + 32];
	ostree_arg(arg, sizeof arg);
	snprintf(link, sizeof link, "/sysroot%s", arg);
	if (!realpath(link, dep))
		die(link);
	mark("step resolved");
	mkdir("/run/lower", 0700);
	mkdir("/sysroot.tmp", 0755);
	snprintf(p, sizeof p, "%s/.ostree.cfs", dep);
	mnt(p, "/run/lower", "erofs", MS_RDONLY, NULL);
	mark("step erofs mounted");
	mnt("composefs", "/sysroot.tmp", "overlay", MS_RDONLY,
	    "metacopy=on,redirect_dir=on,lowerdir=/run/lower::/sysroot/ostree/repo/objects,verity=require");
	umount2("/run/lower", MNT_DETACH);
	mark("step overlay mounted");
	struct stat lst;
	if (lstat("/sysroot/boot/loader", &lst) == 0 && S_ISLNK(lst.st_mode))
		mnt("/sysroot/boot", "/sysroot.tmp/boot", NULL, MS_BIND, NULL);
	snprintf(p, sizeof p, "%s/etc", dep);
	mnt(p, "/sysroot.tmp/etc", NULL, MS_BIND, NULL);
	/* dep is /sysroot/ostree/deploy/STATEROOT/deploy/NAME */
	char *slash = strrchr(dep, '/');
	if (slash)
		*slash = 0;
	slash = strrchr(dep, '/');
	if (slash)
		*slash = 0;
	snprintf(p, sizeof p, "%s/var", dep);
	mnt(p, "/sysroot.tmp/var", NULL, MS_BIND, NULL);
	int fd = open("/run/ostree-booted", O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd >= 0)
		close(fd);
	mark("step binds done");
	mnt("/sysroot", "/sysroot.tmp/sysroot", NULL, MS_MOVE, NULL);
	mnt("/sysroot.tmp", "/sysroot", NULL, MS_MOVE, NULL);
	mnt(NULL, "/sysroot/sysroot", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL);

	mark("step sysroot moved");
	const char *moves[] = {"/dev", "/proc", "/sys", "/run"};
	for (int i = 0; i < 4; i++) {
		snprintf(p, sizeof p, "/sysroot%s", moves[i]);
		mnt(moves[i], p, NULL, MS_MOVE, NULL);
	}
	if (chdir("/sysroot") != 0)
		die("chdir /sysroot");
	struct stat rst;
	int rootfd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rootfd >= 0 && fstat(rootfd, &rst) == 0)
		remove_tree(rootfd, rst.st_dev); /* /sysroot is another filesystem now */
	mnt(".", "/", NULL, MS_MOVE, NULL);
	if (chroot(".") != 0 || chdir("/") != 0)
		die("chroot");
	mark("switch");
	print_records();
	execl("/sbin/init", "/sbin/init", (char *)NULL);
	die("exec /sbin/init");
	return 1;
}
