/*
 * Shared between kube.c (transport, retries) and kube_api.c (paths and verbs);
 * not part of the public API.
 */
#ifndef MASON_KUBE_INTERNAL_H
#define MASON_KUBE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "kube.h"

struct kube_request {
    const char *method;       /* "GET", "POST", "PUT", "PATCH", "DELETE" */
    const char *path;         /* path and query, already escaped */
    const char *content_type; /* of body, or NULL */
    const char *body;         /* or NULL */
    size_t body_len;
    bool replayable; /* safe to send again after the server may have acted on it */
};

/*
 * Sends req with retries and appends the final reply body to out. Returns 0
 * for a 2xx reply, else the mapped MASON_E* code with the reason in err.
 */
int kube_request_send(struct mason_kube *kube, const struct kube_request *req,
                      struct mason_buf *out, struct mason_buf *err);

/* Makes the next request re-read the token file, as it does once the token is a minute old.
 * For tests, which cannot wait that long. */
void kube_token_mark_stale(struct mason_kube *kube);

#endif
