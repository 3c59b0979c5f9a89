/* vdso.h: the vdso's identity, taken by vma.c's capture. */
#ifndef PFREZ_VDSO_H
#define PFREZ_VDSO_H

#include <stdint.h>
#include <sys/types.h>

/* The CRC32C of the bytes of pid's vdso at start..end. */
int vdso_crc(pid_t pid, uint64_t start, uint64_t end, uint32_t *crc);

#endif
