/* pfrez.h: libpfrez, a process checkpoints itself or forks itself onto
 * another host (pfrez_checkpoint(3), pfrez_fork(3)). */
#ifndef PFREZ_H
#define PFREZ_H

#ifdef __cplusplus
extern "C" {
#endif

/* What the calls return, besides a negative errno on failure. */
#define PFREZ_ORIGINAL	1	/* the calling process, going on */
#define PFREZ_RESTORED	2	/* a copy restored from the snapshot */

/* Options; zero (or a NULL pointer) means the default of each. */
struct pfrez_opts {
	const char *compress;	/* as pfrez -compress: "zstd", "gzip:9"; NULL: none */
	const char *encrypt;	/* as pfrez -encrypt: "AES-GCM:KEYFILE"; NULL: none */
	int self_contained;	/* embed the pages of mapped files too */
	int timeout_ms;		/* give up connecting after this long; 0: never */
	const char *pfrez;	/* the pfrez program; NULL: see pfrez_checkpoint(3) */
	char error[256];	/* on failure: why, one line (pfrez's own words) */
};

/* Writes a snapshot of the calling process, all of its threads, to dest
 * (a file, tcp:HOST:PORT or unix:PATH) and goes on: PFREZ_ORIGINAL.
 * A process restored from it returns PFREZ_RESTORED from this call. */
int pfrez_checkpoint(const char *dest, struct pfrez_opts *opts);

/* As pfrez_checkpoint() to a pthaw listening at dest (tcp:HOST:PORT or
 * unix:PATH), which restores the copy at once: PFREZ_ORIGINAL here,
 * PFREZ_RESTORED in the copy. */
int pfrez_fork(const char *dest, struct pfrez_opts *opts);

#ifdef __cplusplus
}
#endif

#endif
