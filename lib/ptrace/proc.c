/* proc.c: parsers for /proc/PID/{maps,smaps,stat,status,fdinfo,pagemap}. */
#include "proc.h"
#include "err.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int maps_parse_line(const char *line, struct vma *v)
{
	char perms[8];
	unsigned long long start, end, off, ino;
	unsigned maj, min;
	int n = 0;
	const char *p;
	size_t len;

	memset(v, 0, sizeof(*v));
	if (sscanf(line, "%llx-%llx %7s %llx %x:%x %llu%n", &start, &end, perms, &off,
		   &maj, &min, &ino, &n) != 7 || strlen(perms) != 4 || start >= end ||
	    !strchr("r-", perms[0]) || !strchr("w-", perms[1]) || !strchr("x-", perms[2]) ||
	    !strchr("ps", perms[3]))
		return err_msg(EINVAL, "maps: cannot parse \"%.60s\"", line);
	v->start = start;
	v->end = end;
	v->pgoff = off;
	v->inode = ino;
	v->prot = (perms[0] == 'r' ? PROT_READ : 0) | (perms[1] == 'w' ? PROT_WRITE : 0) |
		  (perms[2] == 'x' ? PROT_EXEC : 0);
	v->shared = perms[3] == 's';
	p = line + n;
	while (*p == ' ' || *p == '\t')
		p++;
	len = strcspn(p, "\n");
	v->path = strndup(p, len);
	if (!v->path)
		return err_sys(ENOMEM, "maps");
	return 0;
}

void maps_free(struct vma *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].path);
	free(v);
}

int maps_read(pid_t pid, struct vma **out, size_t *n)
{
	char path[64], *line = NULL;
	size_t cap = 0, cnt = 0, alloc = 0;
	struct vma *v = NULL;
	FILE *f;
	int rc = 0;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	f = fopen(path, "re");
	if (!f)
		return err_sys(errno, "%s", path);
	while (getline(&line, &cap, f) > 0) {
		if (cnt == alloc) {
			struct vma *nv = realloc(v, (alloc = alloc ? alloc * 2 : 64) * sizeof(*v));

			if (!nv) {
				rc = err_sys(ENOMEM, "maps");
				break;
			}
			v = nv;
		}
		rc = maps_parse_line(line, &v[cnt]);
		if (rc)
			break;
		cnt++;
	}
	free(line);
	fclose(f);
	if (rc) {
		maps_free(v, cnt);
		return rc;
	}
	*out = v;
	*n = cnt;
	return 0;
}

int proc_stat_parse(const char *text, struct proc_stat *st)
{
	const char *p = strrchr(text, ')');
	unsigned long long f[52] = { 0 };
	int i;

	/* Fields are numbered from 1; the comm (field 2) may hold anything,
	 * so parsing starts after its last ')'. */
	if (!p || p[1] != ' ' || !p[2])
		return err_msg(EINVAL, "stat: cannot parse");
	st->state = p[2];
	p += 3;
	for (i = 4; i <= 51 && *p; i++) {
		char *end;

		while (*p == ' ')
			p++;
		f[i] = strtoull(p, &end, 10);
		/* strtoull takes "-1" too; a lone "-" is no number and
		 * must not be read again as every following field. */
		if (end == p)
			return err_msg(EINVAL, "stat: field %d unreadable", i);
		if (*p == '-')
			f[i] = (unsigned long long)strtoll(p, &end, 10);
		p = end;
	}
	if (i <= 51)
		return err_msg(EINVAL, "stat: only %d fields", i - 1);
	st->flags = (unsigned long)f[9];
	st->ppid = (pid_t)f[4];
	st->pgrp = (pid_t)f[5];
	st->session = (pid_t)f[6];
	st->threads = (long)f[20];
	st->start_code = f[26];
	st->end_code = f[27];
	st->start_stack = f[28];
	st->start_data = f[45];
	st->end_data = f[46];
	st->start_brk = f[47];
	st->arg_start = f[48];
	st->arg_end = f[49];
	st->env_start = f[50];
	st->env_end = f[51];
	return 0;
}

int proc_read_file(const char *path, void *buf, size_t max, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t got = 0;

	if (fd < 0)
		return err_sys(errno, "%s", path);
	for (;;) {
		ssize_t r = read(fd, (char *)buf + got, max - got);

		if (r < 0) {
			int e = errno;

			close(fd);
			return err_sys(e, "%s", path);
		}
		if (r == 0)
			break;
		got += (size_t)r;
		if (got == max) {
			close(fd);
			return err_msg(E2BIG, "%s: larger than %zu bytes", path, max);
		}
	}
	close(fd);
	*len = got;
	return 0;
}

int proc_read_text(pid_t pid, const char *name, char *buf, size_t size)
{
	char path[96];
	size_t len;
	int rc;

	snprintf(path, sizeof(path), "/proc/%d/%s", pid, name);
	rc = proc_read_file(path, buf, size - 1, &len);
	if (rc)
		return rc;
	buf[len] = '\0';
	return 0;
}

int proc_stat_read(pid_t pid, struct proc_stat *st)
{
	char buf[4096];
	int rc;

	rc = proc_read_text(pid, "stat", buf, sizeof(buf));
	if (rc)
		return rc;
	return proc_stat_parse(buf, st);
}

int proc_status_field(pid_t pid, const char *key, char *out, size_t len)
{
	char buf[8192], *p;
	size_t klen = strlen(key);
	int rc;

	rc = proc_read_text(pid, "status", buf, sizeof(buf));
	if (rc)
		return rc;
	for (p = buf; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (strncmp(p, key, klen) == 0 && p[klen] == ':') {
			p += klen + 1;
			while (*p == ' ' || *p == '\t')
				p++;
			snprintf(out, len, "%.*s", (int)strcspn(p, "\n"), p);
			return 0;
		}
	}
	return err_msg(ENOENT, "/proc/%d/status: no field %s", pid, key);
}

int proc_readlink(const char *path, char *out, size_t len)
{
	ssize_t n = readlink(path, out, len - 1);

	if (n < 0)
		return err_sys(errno, "readlink %s", path);
	out[n] = '\0';
	return 0;
}

/* A mapping's line starts "start-end " in hex; a field's "Name:". */
int smaps_parse(FILE *f, smaps_fn fn, void *arg)
{
	unsigned long long start = 0, end = 0;
	char line[4200];
	int in = 0, rc = 0;

	while (!rc && fgets(line, sizeof(line), f)) {
		const char *dash = strchr(line, '-'), *sp = strchr(line, ' ');
		int whole = strchr(line, '\n') != NULL;

		if (dash && sp && dash < sp && sscanf(line, "%llx-%llx ", &start, &end) == 2) {
			in = 1;
		} else if (in && strncmp(line, "VmFlags:", 8) == 0) {
			line[strcspn(line, "\n")] = '\0';
			rc = fn(arg, start, end, line + 8);
			in = 0;
		}
		/* A name longer than the buffer: skip the rest of its line. */
		while (!whole && fgets(line, sizeof(line), f))
			whole = strchr(line, '\n') != NULL;
	}
	if (!rc && ferror(f))
		rc = err_sys(EIO, "smaps: read");
	return rc;
}

int proc_fdinfo_parse(const char *text, uint64_t *pos, uint32_t *flags)
{
	const char *p = strstr(text, "pos:"), *q = strstr(text, "flags:");

	if (!p || !q)
		return err_msg(EINVAL, "fdinfo: missing pos or flags");
	*pos = strtoull(p + 4, NULL, 10);
	*flags = (uint32_t)strtoul(q + 6, NULL, 8);
	return 0;
}

int pagemap_read(int fd, uint64_t addr, size_t npages, uint64_t *out)
{
	size_t want = npages * sizeof(uint64_t), got = 0;
	off_t off = (off_t)(addr / 4096 * sizeof(uint64_t));

	while (got < want) {
		ssize_t r = pread(fd, (char *)out + got, want - got, off + (off_t)got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return err_sys(r < 0 ? errno : EIO, "pagemap: read at 0x%" PRIx64, addr);
		got += (size_t)r;
	}
	return 0;
}

int proc_count_threads(pid_t pid)
{
	char path[64];
	struct dirent *d;
	DIR *dir;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	dir = opendir(path);
	if (!dir)
		return err_sys(errno == ENOENT ? ESRCH : errno, "process %d", pid);
	while ((d = readdir(dir)))
		if (d->d_name[0] != '.')
			n++;
	closedir(dir);
	return n;
}

int proc_list_tids(pid_t pid, pid_t **out, size_t *n)
{
	char path[64];
	struct dirent *d;
	pid_t *v = NULL, *nv;
	size_t cap = 0;
	DIR *dir;

	*out = NULL;
	*n = 0;
	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	dir = opendir(path);
	if (!dir)
		return err_sys(errno == ENOENT ? ESRCH : errno, "process %d", pid);
	while ((d = readdir(dir))) {
		if (d->d_name[0] < '1' || d->d_name[0] > '9')
			continue;
		if (*n == cap) {
			cap = cap ? 2 * cap : 16;
			nv = realloc(v, cap * sizeof(*v));
			if (!nv) {
				free(v);
				closedir(dir);
				return err_sys(ENOMEM, "thread list");
			}
			v = nv;
		}
		v[(*n)++] = (pid_t)atoi(d->d_name);
	}
	closedir(dir);
	*out = v;
	return 0;
}
