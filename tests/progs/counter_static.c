/* counter_static: counter.c linked statically (see PROGS_STATIC). */
#include "counter.c"
