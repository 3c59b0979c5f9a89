/* record.h: the typed, checksummed records of a pfrez stream (format 2).
 *
 * On the wire each record is
 *	u32 type, u32 len, u8 payload[len], u32 crc32c(type, len, payload)
 * little-endian.  The payload layouts below are packed, fixed-width and
 * little-endian; man/pfrez-stream.5 is their normative description.  The
 * last record is REC_END, carrying the count and byte total of all records
 * before it, so a stream cut at a record boundary is still detected. */
#ifndef PFREZ_RECORD_H
#define PFREZ_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "layer.h"

enum rec_type {
	REC_PROC = 1,	/* struct rec_proc + comm, exe, cwd strings */
	REC_MM = 2,	/* struct rec_mm + auxv bytes */
	REC_RLIMITS = 3,/* struct rec_rlimits */
	REC_SIGNALS = 4,/* struct rec_signals */
	REC_FD = 5,	/* struct rec_fd: an fd, refers to a REC_FILE */
	REC_VMA = 6,	/* struct rec_vma + name */
	/* 7 and 8 (regs, xstate of format 2.0 drafts) are retired: REC_THREAD */
	REC_RSEQ = 9,	/* struct rec_rseq: one thread's */
	REC_PAGES = 10,	/* struct rec_pages + npages * 4096 bytes (none if zero) */
	REC_SIGINFO = 11,/* struct rec_siginfo: one pending signal */
	REC_CREDS = 12,	/* struct rec_creds + ngroups u32 group ids */
	REC_PRCTL = 13,	/* lib/kind/prctl.c */
	REC_CAPS = 14,	/* lib/kind/caps.c */
	REC_SECCOMP = 15,/* lib/kind/seccomp.c */
	REC_SCHED = 16,	/* lib/kind/sched.c */
	REC_MEMBARRIER = 17,/* lib/kind/membarrier.c */
	REC_MADVISE = 18,/* lib/kind/madvise.c */
	REC_TIMERS = 19,/* lib/kind/timers.c */
	REC_LOCKS = 20,	/* lib/kind/locks.c */
	REC_FILE = 21,	/* struct rec_file + path: an open file description */
	REC_THREAD = 22,/* struct rec_thread + xsave area: one thread */
	REC_PIPE = 23,	/* struct rec_pipe + chunk lengths + bytes: lib/kind/fd_pipe.c */
	REC_EVENTFD = 24,/* struct rec_eventfd: lib/kind/fd_eventfd.c */
	REC_TIMERFD = 25,/* struct rec_timerfd: lib/kind/fd_timerfd.c */
	REC_SIGNALFD = 26,/* struct rec_signalfd: lib/kind/fd_signalfd.c */
	REC_EPOLL = 27,	/* struct rec_epoll + entries: lib/kind/fd_epoll.c */
	REC_TTY = 33,	/* struct rec_tty: the process's terminal (lib/kind/fd_tty.c) */
	REC_INET = 34,	/* lib/kind/fd_inet.c: a TCP or UDP socket */
	REC_SHMEM = 28,	/* struct rec_shmem + name: a memory object (lib/kind/shmem.c) */
	REC_FILEDATA = 29,/* struct rec_filedata + bytes: part of a memory object's contents */
	REC_UNIX = 31,	/* lib/kind/fd_unix.c: one unix socket */
	REC_INOTIFY = 32,/* lib/kind/fd_inotify.c: one inotify instance */
	/* struct rec_lazy: the state is complete; only pages of private
	 * anonymous mappings follow (pfrez -lazy).  Optional: a reader that
	 * does not know it restores as from any stream. */
	REC_LAZY = 0x40000028,
	REC_PSTREE = 35,/* struct rec_pstree + entries: a process tree (lib/kind/pstree.c) */
	REC_PSTREE_BEGIN = 36,/* struct rec_pstree_begin: whose records follow */
	REC_TREEFILE = 37,/* struct rec_treefile: a file an earlier process of the tree has (lib/kind/fd_tree.c) */
	REC_END = 0xffff,/* struct rec_end */
};

/* A reader that does not know a record type refuses the stream, unless
 * the type has this bit: then the record is a hint or a statistic whose
 * loss cannot break the process, and it is skipped with a warning. */
#define REC_OPTIONAL	0x40000000u

/* What to do with a record of a type nobody knows: 0 (skip it: the
 * caller warns) when it is optional, -EBADMSG naming it otherwise. */
int rec_unknown(uint32_t type);

#define REC_MAX_PAYLOAD	(1u << 22)	/* 4 MiB: bounds the reader's buffer */
#define REC_PAGE_SIZE	4096u
#define REC_PAGES_MAX	256u		/* pages per REC_PAGES: 1 MiB */

/* What a file opened by path was at the capture, so that pthaw reopens
 * the same one: dev and ino compare only on the same host (same boot-id
 * header field), the rest anywhere. */
struct rec_ident {
	uint64_t dev, ino;	/* st_dev, st_ino */
	uint64_t rdev;		/* devices: st_rdev */
	uint64_t size;		/* regular files: st_size */
	int64_t mtime_sec;	/* regular files: st_mtim */
	uint32_t mtime_nsec;
	uint32_t mode;		/* st_mode: the file type is compared */
} __attribute__((packed));

struct rec_proc {
	uint32_t pid;
	uint32_t ppid;		/* its parent, pgid and sid at the capture */
	uint32_t pgid;
	uint32_t sid;
	uint32_t nthreads;	/* REC_THREAD records that follow */
	uint32_t umask;
	struct rec_ident exe;	/* the executable */
	struct rec_ident cwd;	/* the working directory */
	struct rec_ident root;	/* the root directory: the host's / */
	uint16_t comm_len, exe_len, cwd_len;
	uint16_t pad;
	/* then comm, exe, cwd bytes (no terminators) */
} __attribute__((packed));

/* A process tree (lib/kind/pstree.c): the first record of a stream of
 * more than one process.  Each live process's records then follow its
 * begin record, in the tree's order; a zombie has none. */
enum rec_pstree_state {
	PSTREE_LIVE = 0,	/* running or sleeping */
	PSTREE_STOPPED = 1,	/* in a group stop (SIGSTOP ...): restored stopped */
	PSTREE_ZOMBIE = 2,	/* exited, not reaped: restored exited with status */
};

struct rec_pstree_proc {
	uint32_t pid;
	uint32_t ppid;		/* the root's parent is outside the tree */
	uint32_t pgid, sid;
	uint32_t status;	/* a zombie's wait status (/proc/PID/stat exit_code) */
	uint8_t state;		/* enum rec_pstree_state */
	uint8_t flags;		/* enum rec_pstree_flag */
	uint8_t pad[2];
	char comm[16];		/* its name (/proc/PID/comm), NUL-padded */
} __attribute__((packed));

enum rec_pstree_flag {
	/* Made by clone(2) with CLONE_FILES (no thread): it shares its
	 * parent's fd table, which the parent's records describe; it has
	 * none of its own in the stream. */
	PSTREE_FILES_SHARED = 1,
	/* Made with CLONE_FS: it shares its parent's working directory,
	 * root and umask (the same in both processes' records). */
	PSTREE_FS_SHARED = 2,
};

struct rec_pstree {
	uint32_t nprocs;	/* entries that follow: the root first, every
				 * process after its parent */
	uint32_t pad;
} __attribute__((packed));

/* File file (FD_TREE) of this process is the very open file description
 * that file owner_file of process owner_pid, earlier in the tree, has. */
struct rec_treefile {
	uint32_t file;
	uint32_t owner_pid;
	uint32_t owner_file;
	uint32_t pad;
} __attribute__((packed));

struct rec_pstree_begin {
	uint32_t pid;		/* the records up to the next begin or the end
				 * record are this process's */
	uint32_t pad;
} __attribute__((packed));

#define REC_NGROUPS_MAX	65536u	/* the kernel's NGROUPS_MAX */
struct rec_creds {
	uint32_t uid, euid, suid, fsuid;
	uint32_t gid, egid, sgid, fsgid;
	uint32_t ngroups;	/* supplementary group ids that follow */
	uint32_t pad;
} __attribute__((packed));

struct rec_mm {
	uint64_t start_code, end_code, start_data, end_data;
	uint64_t start_brk, brk, start_stack;
	uint64_t arg_start, arg_end, env_start, env_end;
	uint32_t auxv_len;	/* bytes of auxv that follow */
	uint32_t pad;
} __attribute__((packed));

#define REC_NLIMITS 16
struct rec_rlimits {
	uint64_t cur[REC_NLIMITS];
	uint64_t max[REC_NLIMITS];
} __attribute__((packed));

struct rec_sigaction {
	uint64_t handler, flags, restorer, mask;	/* the kernel's layout */
} __attribute__((packed));

/* What signals are to the whole process (per thread: REC_THREAD). */
struct rec_signals {
	struct rec_sigaction act[64];	/* act[i] is signal i + 1 */
	uint64_t itimer[3][4];	/* ITIMER_REAL/VIRTUAL/PROF: interval s, us, value s, us */
} __attribute__((packed));

enum rec_file_flag {
	FDF_PROC_SELF = 1u << 0,/* path under /proc/PID of the process itself */
	FDF_PSEUDO = 1u << 1,	/* on proc or sysfs: size and mtime mean nothing */
};

enum rec_file_kind {
	FD_FILE = 1,	/* regular file: reopened by path at pos */
	FD_DIR = 2,	/* directory: reopened by path */
	FD_DEV = 3,	/* character device such as /dev/null: reopened by path */
	FD_STDIO = 4,	/* terminal, pipe or socket at 0..2: pthaw's own stdio */
	/* Not reopened by name: made anew by their fd kind (lib/kind/fdkind.h),
	 * whose own records carry their state. */
	FD_PIPE = 5,	/* an end of a pipe */
	FD_FIFO = 6,	/* an end of a named pipe */
	FD_UNIX = 7,	/* a unix socket */
	FD_EVENTFD = 8,
	FD_TIMERFD = 9,
	FD_SIGNALFD = 10,
	FD_EPOLL = 11,
	FD_INOTIFY = 12,
	FD_MEMFD = 13,
	FD_DELETED = 14,/* a regular file unlinked while open: its contents travel */
	FD_TTY = 15,	/* a terminal beyond pthaw's own stdio */
	FD_INET = 16,	/* a TCP or UDP socket */
	FD_TREE = 17,	/* the open file description of an earlier process
			 * of the tree (inherited across fork): its
			 * REC_TREEFILE names it, its own records are there */
	FD_KIND_MAX = 17,
};

/* An open file description (what open() made: one offset, one set of
 * status flags), described once; the fds that refer to it follow as
 * REC_FD records.  Ids are 0, 1, ... in the order of the records. */
struct rec_file {
	uint32_t id;
	uint32_t kind;		/* enum rec_file_kind */
	uint32_t flags;		/* access mode and status flags, from fdinfo */
	uint32_t file_flags;	/* enum rec_file_flag */
	uint64_t pos;
	uint32_t mode;		/* st_mode of the file */
	uint32_t path_len;
	struct rec_ident ident;	/* FD_FILE, FD_DIR, FD_DEV: what to reopen */
	/* then path */
} __attribute__((packed));

enum rec_tty_flag {
	TTY_FOREGROUND = 1u << 0,/* the process's group was the terminal's foreground */
};

/* The process's controlling terminal, when an fd refers to it: its modes
 * (termios, as tcgetattr gives them) and window size at the capture. */
struct rec_tty {
	uint32_t flags;		/* enum rec_tty_flag */
	uint32_t tpgid;		/* the terminal's foreground group at the capture */
	uint64_t rdev;		/* the terminal's device number at the capture */
	uint32_t iflag, oflag, cflag, lflag;
	uint32_t ispeed, ospeed;
	uint8_t line;
	uint8_t cc[32];		/* c_cc[] */
	uint8_t pad[3];
	uint16_t rows, cols, xpixel, ypixel;
} __attribute__((packed));

/* One fd of the table: a reference to an open file description. */
struct rec_fd {
	int32_t fd;
	uint32_t file;		/* the id of a REC_FILE before it */
	uint32_t cloexec;	/* 1: FD_CLOEXEC (a flag of the fd, not of the file) */
	uint32_t pad;
} __attribute__((packed));

/* A pipe or FIFO (lib/kind/fd_pipe.c): the files of its ends and the
 * bytes queued in it, in order. */
enum rec_pipe_flag {
	PIPE_OUTSIDE = 1u << 0,	/* an end the process lacks is open outside it */
	PIPE_PACKETS = 1u << 1,	/* O_DIRECT: each chunk is one packet */
	PIPE_FIFO = 1u << 2,	/* a named pipe: its files reopen its path */
	PIPE_TREE = 1u << 3,	/* an earlier process of the tree has this pipe
				 * (same ino): made and filled there, its ends
				 * here are opened anew on it; no bytes */
};

struct rec_pipe {
	uint64_t ino;		/* its inode (pipefs, or the FIFO's): shown only */
	uint32_t size;		/* F_GETPIPE_SZ, bytes */
	uint32_t flags;		/* enum rec_pipe_flag */
	uint32_t nfiles;	/* REC_FILE ids that follow: its open files */
	uint32_t nchunks;	/* then chunk lengths, u32 each */
	uint32_t data_len;	/* then the queued bytes: the chunks in order */
	uint32_t pad;
} __attribute__((packed));

/* An eventfd (lib/kind/fd_eventfd.c). */
struct rec_eventfd {
	uint32_t file;		/* its REC_FILE id */
	uint32_t semaphore;	/* 1: EFD_SEMAPHORE */
	uint64_t count;
} __attribute__((packed));

/* A timerfd (lib/kind/fd_timerfd.c).  Times are what was left at the
 * capture; now is the clock's reading then. */
struct rec_timerfd {
	uint32_t file;
	int32_t clock;		/* CLOCK_REALTIME, _MONOTONIC, _BOOTTIME, _ALARM ones */
	uint32_t settime_flags;	/* TFD_TIMER_ABSTIME, TFD_TIMER_CANCEL_ON_SET */
	uint32_t pad;
	uint64_t ticks;		/* expirations not read yet */
	int64_t it[4];		/* interval s, ns; value (time left) s, ns */
	int64_t now[2];		/* the clock at the capture: s, ns */
} __attribute__((packed));

/* A signalfd (lib/kind/fd_signalfd.c). */
struct rec_signalfd {
	uint32_t file;
	uint32_t pad;
	uint64_t mask;		/* the signals it reads: bit n is signal n + 1 */
} __attribute__((packed));

/* An epoll instance (lib/kind/fd_epoll.c) and its interest list. */
struct rec_epoll {
	uint32_t file;
	uint32_t nentries;	/* struct rec_epoll_entry that follow */
} __attribute__((packed));

struct rec_epoll_entry {
	int32_t tfd;		/* the watched fd (of the process's table) */
	uint32_t events;	/* with EPOLLET, EPOLLONESHOT, ... */
	uint64_t data;
} __attribute__((packed));

enum rec_vma_flag {
	VMA_SHARED = 1u << 0,	/* MAP_SHARED (only of read-only files) */
	VMA_FILE = 1u << 1,	/* maps the file named; clean pages come from it */
	VMA_EMBED = 1u << 2,	/* file mapping whose pages are all in the stream */
	VMA_STACK = 1u << 3,	/* [stack]: grows down */
	VMA_HEAP = 1u << 4,	/* [heap] */
	VMA_VDSO = 1u << 5,	/* [vdso]: not restored from data, moved */
	VMA_VVAR = 1u << 6,	/* [vvar] */
	VMA_VVAR_VCLOCK = 1u << 7,/* [vvar_vclock] */
	VMA_VSYSCALL = 1u << 8,	/* [vsyscall]: fixed by the kernel, skipped */
	VMA_SHMEM = 1u << 9,	/* maps memory object .shmem (REC_SHMEM) */
};
#define VMA_SPECIAL (VMA_VDSO | VMA_VVAR | VMA_VVAR_VCLOCK | VMA_VSYSCALL)

struct rec_vma {
	uint64_t start, end, pgoff;	/* pgoff in bytes */
	uint32_t prot;			/* PROT_* */
	uint32_t flags;			/* enum rec_vma_flag */
	uint64_t file_size;		/* identity of a VMA_FILE mapping's file */
	int64_t mtime_sec;
	uint32_t mtime_nsec;
	uint32_t content_crc;		/* [vdso]: crc32c of its bytes */
	uint32_t name_len;
	uint32_t shmem;			/* VMA_SHMEM: the id of its REC_SHMEM; else 0 */
	/* then name: a path or "[heap]", "[stack]", ... */
} __attribute__((packed));

/* A memory object: something mapped shared or open whose state is its
 * contents, described once; mappings (VMA_SHMEM) and files (FD_MEMFD,
 * FD_DELETED, by ident) refer to it.  Ids are 0, 1, ... in record order. */
enum rec_shmem_kind {
	SHMEM_ANON = 1,		/* MAP_SHARED|MAP_ANONYMOUS or of /dev/zero */
	SHMEM_MEMFD = 2,	/* memfd_create(): name, seals */
	SHMEM_FILE = 3,		/* a file mapped shared and writable: the file
				 * is the state, reopened by path */
	SHMEM_DELETED = 4,	/* a regular file unlinked while open or mapped */
	SHMEM_TREE = 5,		/* an earlier process of the tree's object (same
				 * ident): made and filled there, taken from it */
	SHMEM_SYSV = 6,		/* a SysV shared memory segment (shmget): the
				 * name is empty, struct rec_shm_sysv follows */
	SHMEM_KIND_MAX = 6,
};

struct rec_shmem {
	uint32_t id;
	uint32_t kind;		/* enum rec_shmem_kind */
	uint64_t size;		/* bytes (SHMEM_FILE: as at the capture) */
	uint32_t seals;		/* SHMEM_MEMFD: F_GET_SEALS */
	uint32_t mode;		/* st_mode: permissions of a memfd or deleted file */
	uint32_t name_len;
	uint32_t pad;
	struct rec_ident ident;	/* what it was; files refer to it by dev, ino */
	/* then name: a memfd's name, a file's path */
} __attribute__((packed));

/* REC_LAZY: pages to follow (zero pages included), for -progress. */
struct rec_lazy {
	uint64_t pages;
} __attribute__((packed));

/* After a SHMEM_SYSV object's (empty) name: the segment as
 * /proc/sysvipc/shm showed it; ident.ino is its shmid too. */
struct rec_shm_sysv {
	int32_t key;		/* IPC_PRIVATE (0) once marked for deletion */
	int32_t shmid;
	uint32_t uid, gid;	/* shm_perm.uid, gid: its owner */
	uint32_t mode;		/* shm_perm.mode: 0777 bits and SHM_DEST */
	uint32_t pad;
} __attribute__((packed));

/* Part of an object's contents: the bytes at offset (holes and zero
 * pages are not sent: a new object reads zeros there). */
struct rec_filedata {
	uint32_t id;		/* its REC_SHMEM */
	uint32_t len;		/* bytes that follow, at most REC_PAGES_MAX pages */
	uint64_t offset;	/* a multiple of REC_PAGE_SIZE */
} __attribute__((packed));

struct rec_regs {
	uint64_t r15, r14, r13, r12, rbp, rbx, r11, r10, r9, r8;
	uint64_t rax, rcx, rdx, rsi, rdi, orig_rax, rip, cs, eflags, rsp, ss;
	uint64_t fs_base, gs_base, ds, es, fs, gs;
} __attribute__((packed));

/* One thread of the process: what is its own (the rest is the
 * process's).  The thread whose tid is the pid comes first. */
struct rec_thread {
	uint32_t tid;
	uint32_t flags;		/* none yet: 0 */
	uint64_t blocked;	/* its signal mask */
	uint64_t ss_sp;		/* its alternate signal stack */
	uint64_t ss_size;
	int32_t ss_flags;
	uint32_t xsave_size;	/* bytes of XSAVE area that follow */
	uint64_t clear_tid;	/* set_tid_address() */
	uint64_t xcr0;		/* features the XSAVE area describes */
	struct rec_regs regs;
	uint64_t robust_list;	/* set_robust_list(): head and its length */
	uint64_t robust_len;
	char comm[16];		/* its name (PR_SET_NAME), NUL-padded */
} __attribute__((packed));

struct rec_rseq {
	uint32_t tid;		/* the thread that registered it */
	uint32_t len;
	uint64_t addr;
	uint32_t sig;
	uint32_t flags;
} __attribute__((packed));

struct rec_siginfo {
	uint32_t shared;	/* 1: pending for the process, 0: for the thread */
	uint32_t tid;		/* the thread it is pending for; 0 when shared */
	uint8_t info[128];	/* the kernel's siginfo_t */
} __attribute__((packed));

enum rec_pages_flag {
	PAGES_ZERO = 1,	/* npages of zeros, no data follows */
};

struct rec_pages {
	uint64_t addr;
	uint32_t npages;
	uint32_t flags;
	/* then npages * 4096 bytes unless PAGES_ZERO */
} __attribute__((packed));

struct rec_end {
	uint64_t count;		/* records before this one */
	uint64_t bytes;		/* their bytes on the wire */
} __attribute__((packed));

/* Writing: counts records and bytes for REC_END. */
struct rec_writer {
	struct layer *out;
	uint64_t count, bytes;
};

/* Writes one record: head (hlen bytes) and then body (blen bytes) form
 * the payload; either may be empty.  0 or -errno. */
int rec_write(struct rec_writer *w, uint32_t type, const void *head, size_t hlen,
	      const void *body, size_t blen);

/* rec_write, with body whole pages at a page-aligned address that the
 * caller gives away (layer.h, give): 1 when the layers kept them by
 * reference (the caller must not write them again: it maps fresh ones
 * there first), 0 when they were copied, or -errno. */
int rec_write_give(struct rec_writer *w, uint32_t type, const void *head, size_t hlen,
		   void *body, size_t blen);

/* Writes REC_END. */
int rec_write_end(struct rec_writer *w);

/* Reading: owns a buffer of REC_MAX_PAYLOAD bytes. */
struct rec_reader {
	struct layer *in;
	unsigned char *buf;
	uint64_t count, bytes;
	int ended;
};

int rec_reader_init(struct rec_reader *r, struct layer *in);
void rec_reader_free(struct rec_reader *r);

/* Reads the next record, checks its CRC and, for REC_END, the count and
 * total.  Returns 1 with *type, *payload (valid until the next call) and
 * *len; 0 after REC_END was read and verified (the payload layer must then
 * be at its end); -errno on a bad, truncated or oversized record. */
int rec_read(struct rec_reader *r, uint32_t *type, const unsigned char **payload,
	     size_t *len);

/* The smallest payload a known record type can have (its fixed part). */
size_t rec_min_len(uint32_t type);

const char *rec_type_name(uint32_t type);

#endif
