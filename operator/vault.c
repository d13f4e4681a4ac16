/* Vault KV v2 backend of the secret resolver (see secrets.h). */
#include "secrets.h"

#include <stdlib.h>

#include "error.h"
#include "banned.h"

struct vault_backend {
    struct mason_secret_backend base;
};

static int vault_fetch(struct mason_secret_backend *backend, const char *name,
                       struct mason_buf *value, struct mason_buf *err)
{
    (void)backend;
    (void)name;
    (void)value;
    mason_buf_adds(err, "the Vault client is not built yet");
    return MASON_EUNAVAILABLE;
}

static void vault_destroy(struct mason_secret_backend *backend)
{
    free(backend);
}

struct mason_secret_backend *
mason_secrets_vault_backend_create(const struct mason_secret_backend_config *cfg,
                                   struct mason_buf *err)
{
    struct vault_backend *b = calloc(1, sizeof(*b));

    (void)cfg;
    if (!b) {
        mason_buf_adds(err, "out of memory");
        return NULL;
    }
    b->base.fetch = vault_fetch;
    b->base.destroy = vault_destroy;
    return &b->base;
}
