/* shmem.h: memory objects (lib/kind/shmem.c): what the mappings
 * (vma.c), the fd kinds memfd and deleted (fd_memfd.c, fd_deleted.c)
 * and the pages (pages.c) ask of them. */
#ifndef PFREZ_SHMEM_H
#define PFREZ_SHMEM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "record.h"

struct kind_restore;
struct pload;
struct snap;
struct snap_file;

/* The id of the object that is inode (dev, ino) as the capture saw it,
 * or -1. */
long shmem_find(const struct snap *s, uint64_t dev, uint64_t ino);

/* At restore, from KIND_STAGE_SPACE on: a new fd of pload on object id,
 * to map it with prot (the caller closes it), or -errno. */
long shmem_map_fd(struct kind_restore *r, const struct snap *s, uint32_t id, uint32_t prot);

/* At restore, from KIND_STAGE_SPACE on: the shmid here of object id
 * when it is a SysV segment (of this process or, SHMEM_TREE, of an
 * earlier one of the tree), *dest whether it was marked for deletion;
 * -ENODATA when it is no segment, or -errno. */
long shmem_sysv_id(const struct snap *s, uint32_t id, int *dest);

/* At KIND_STAGE_FILES: a new open file description of the object file f
 * refers to (by its dev and ino), with f's flags and position: pload's
 * fd, or -errno (the fd kinds memfd and deleted). */
long shmem_open_file(struct kind_restore *r, const struct snap *s, const struct snap_file *f);

/* Every mapping (VMA_SHMEM) and file (FD_MEMFD, FD_DELETED) that
 * refers to a memory object has it; -EBADMSG naming the first that
 * does not (vma.c asks it before any page, whether or not the snapshot
 * has memory objects). */
int shmem_refs_check(const struct snap *s);

/* pfrez: the REC_FILEDATA records of every object whose contents travel
 * (after the pages), counting their pages, progress told as they go. */
struct shmem_out {
	unsigned long long pages;
	void (*progress)(void *arg, unsigned long long bytes);
	void *progress_arg;
};
int shmem_write_data(const struct snap *s, struct rec_writer *w, struct shmem_out *out);

/* pthaw: checks one REC_FILEDATA record against the objects (pl NULL:
 * only checks it) and writes it into its object in pload. */
int shmem_data_put(struct pload *pl, const struct snap *s, const unsigned char *p, size_t len);

#endif
