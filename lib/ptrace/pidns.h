/* pidns.h: a new PID namespace (and, without privilege, a user namespace)
 * in which a restored process gets its old PID back. */
#ifndef PFREZ_PIDNS_H
#define PFREZ_PIDNS_H

#include <stddef.h>
#include <sys/types.h>

/* Where pload starts: in pthaw's namespaces; in a new PID and mount
 * namespace where its old PID is free (root: CAP_CHECKPOINT_RESTORE or
 * CAP_SYS_ADMIN); or in those inside a new user namespace that maps only
 * pthaw's own uid and gid, where an ordinary user has what the restore
 * needs.  Either way pload is pthaw's child: pthaw traces it, waits for
 * it and signals it by its PID in pthaw's namespace; the tasks pload
 * creates later (threads, with clone3 set_tid) find their numbers free. */
enum pload_ns { PLOAD_NS_NONE, PLOAD_NS_PID, PLOAD_NS_USER };

/* Whether pthaw can give PIDs back in its own namespace (clone3 set_tid)
 * and set the memory layout (PR_SET_MM_MAP): CAP_CHECKPOINT_RESTORE or
 * CAP_SYS_ADMIN in its effective set. */
int pidns_privileged(void);

/* 0 when this pthaw can create a user namespace; else -errno with the
 * message naming the setting that forbids it (user.max_user_namespaces,
 * kernel.unprivileged_userns_clone, AppArmor's restriction, ...). */
int pidns_userns_usable(void);

/* Starts a child as pidns.c says, with PID want in the new namespace
 * (want > 1), running start(arg) there; user: inside a new user
 * namespace too.  Returns the child's PID in pthaw's namespace (the child
 * is pthaw's), or -errno with the message set and nothing left running.
 * start must not return. */
pid_t pidns_spawn(pid_t want, int user, void (*start)(void *arg), void *arg);

#endif
