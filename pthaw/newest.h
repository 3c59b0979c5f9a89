/* newest.h: pthaw -src=DIR: the newest snapshot of a directory that pfrez
 * -every writes, falling back to older ones that verify. */
#ifndef PTHAW_NEWEST_H
#define PTHAW_NEWEST_H

/* The path of the newest snapshot (ckpt-NNNNNN.pfrez, highest number
 * first) in dir whose whole stream verifies, read by this pthaw with
 * -debug and the key flags in keyargs (NULL-terminated); each one that
 * does not is named on stderr with why.  NULL, message set, when none
 * does.  The path is static. */
const char *newest_pick(const char *dir, char *const *keyargs);

#endif
