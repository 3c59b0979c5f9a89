/* proc.h: reading a process's state from /proc. */
#ifndef PFREZ_PROC_H
#define PFREZ_PROC_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "record.h"

struct vma {
	uint64_t start, end, pgoff;
	uint32_t prot;
	int shared;
	uint64_t inode;
	char *path;	/* "" for anonymous; "[heap]", "/usr/bin/x", ... */
};

/* Parses one /proc/PID/maps line into v (v->path allocated). */
int maps_parse_line(const char *line, struct vma *v);

/* All mappings of pid, in address order. */
int maps_read(pid_t pid, struct vma **out, size_t *n);
void maps_free(struct vma *v, size_t n);

/* Calls fn for each mapping of a /proc/PID/smaps text read from f, with
 * the words of its VmFlags line ("rd wr mr mw me dc"); stops at the first
 * non-zero return of fn and returns it. */
typedef int (*smaps_fn)(void *arg, uint64_t start, uint64_t end, const char *vmflags);
int smaps_parse(FILE *f, smaps_fn fn, void *arg);

/* Fields of /proc/PID/stat: state letter, thread count and the mm fields
 * (all but brk, which only the process itself can tell). */
struct proc_stat {
	char state;
	unsigned long flags;	/* the kernel's PF_* (field 9) */
	long threads;
	pid_t ppid, pgrp, session;
	uint64_t start_code, end_code, start_stack;
	uint64_t start_data, end_data, start_brk;
	uint64_t arg_start, arg_end, env_start, env_end;
};

int proc_stat_parse(const char *text, struct proc_stat *st);
int proc_stat_read(pid_t pid, struct proc_stat *st);

/* The threads of pid: the entries of /proc/PID/task. */
int proc_count_threads(pid_t pid);

/* The tids of /proc/PID/task, in *out (allocated), *n of them. */
int proc_list_tids(pid_t pid, pid_t **out, size_t *n);

/* The value of "Key:" in /proc/PID/status, trimmed. */
int proc_status_field(pid_t pid, const char *key, char *out, size_t len);

/* /proc/PID/NAME (e.g. "comm", "fdinfo/3") as a NUL-terminated string. */
int proc_read_text(pid_t pid, const char *name, char *buf, size_t size);

/* Reads a whole small file; *len gets its size.  -E2BIG past max. */
int proc_read_file(const char *path, void *buf, size_t max, size_t *len);

/* readlink() into out, NUL-terminated. */
int proc_readlink(const char *path, char *out, size_t len);

/* From /proc/PID/fdinfo/FD: "pos:" and "flags:" (octal). */
int proc_fdinfo_parse(const char *text, uint64_t *pos, uint32_t *flags);

/* Entries of /proc/PID/pagemap for npages pages from addr. */
#define PM_PRESENT	(1ull << 63)
#define PM_SWAPPED	(1ull << 62)
#define PM_FILE		(1ull << 61)	/* page cache page or shared anon */
int pagemap_read(int fd, uint64_t addr, size_t npages, uint64_t *out);

#endif
