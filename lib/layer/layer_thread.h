/* layer_thread.h: a writer layer that hands its data to a second thread,
 * which writes it to the layers below (compression, encryption, the
 * sink) while the first thread goes on reading memory. */
#ifndef PFREZ_LAYER_THREAD_H
#define PFREZ_LAYER_THREAD_H

#include "layer.h"

/* On failure below is still the caller's. */
int layer_thread_open(struct layer *below, struct layer **out);

#endif
