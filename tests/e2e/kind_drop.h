/* kind_drop.h: forced into lib/kind/kind.c and snap.c of the builds that
 * leave one kind out (make kind-drop, -DKIND_DROP=kind_NAME): snap.c sees
 * no declaration of the kinds' ops, only the table. */
#include "kind.h"

extern const struct kind_ops KIND_DROP;
