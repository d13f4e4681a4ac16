/* AWS Secrets Manager backend of the secret resolver (see secrets.h). */
#include "secrets.h"

#include <stdlib.h>

#include "error.h"
#include "banned.h"

struct aws_backend {
    struct mason_secret_backend base;
};

static int aws_fetch(struct mason_secret_backend *backend, const char *name,
                     struct mason_buf *value, struct mason_buf *err)
{
    (void)backend;
    (void)name;
    (void)value;
    mason_buf_adds(err, "the AWS Secrets Manager client is not built yet");
    return MASON_EUNAVAILABLE;
}

static void aws_destroy(struct mason_secret_backend *backend)
{
    free(backend);
}

struct mason_secret_backend *
mason_secrets_aws_backend_create(const struct mason_secret_backend_config *cfg,
                                 struct mason_buf *err)
{
    struct aws_backend *b = calloc(1, sizeof(*b));

    (void)cfg;
    if (!b) {
        mason_buf_adds(err, "out of memory");
        return NULL;
    }
    b->base.fetch = aws_fetch;
    b->base.destroy = aws_destroy;
    return &b->base;
}
