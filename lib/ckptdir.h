/* ckptdir.h: a directory of numbered snapshots, as pfrez -every writes
 * it and pthaw -src=DIR reads it: ckpt-NNNNNN.pfrez, the number counting
 * up (the temporary files of the transport begin with a dot and are not
 * among them). */
#ifndef PFREZ_CKPTDIR_H
#define PFREZ_CKPTDIR_H

#define CKPT_NAME	"ckpt-%06lu.pfrez"

/* The numbers of the snapshots in dir, highest first, in *num (to be
 * freed); their count, or -errno with the message set when dir cannot
 * be read. */
long ckpt_list(const char *dir, unsigned long **num);

#endif
