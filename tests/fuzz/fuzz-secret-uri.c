/*
 * Fuzzes the secret reference parser: the input is one reference, parsed for
 * every backend kind, and also read as a cache_ttl duration.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "secrets.h"

static void parse_for(const char *ref, enum mason_secret_backend_kind kind)
{
    struct mason_secret_uri uri;
    struct mason_buf err = MASON_BUF_INIT;

    if (mason_secret_uri_parse(ref, kind, &uri, &err) == 0) {
        /* A parsed reference always has a scheme and a name, and k8s names have a key. */
        if (!uri.scheme || !uri.name)
            abort();
        if (kind == MASON_SECRET_BACKEND_K8S && !strchr(uri.name, '/'))
            abort();
        if (kind == MASON_SECRET_BACKEND_VAULT && !uri.field)
            abort();
    } else if (err.len == 0) {
        abort(); /* every rejection names the offending part */
    }
    mason_secret_uri_release(&uri);
    mason_buf_release(&err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *ref = malloc(size + 1);
    struct mason_buf scheme = MASON_BUF_INIT, err = MASON_BUF_INIT;
    unsigned seconds;

    if (!ref)
        return 0;
    memcpy(ref, data, size);
    ref[size] = '\0';
    parse_for(ref, MASON_SECRET_BACKEND_K8S);
    parse_for(ref, MASON_SECRET_BACKEND_AWS_SM);
    parse_for(ref, MASON_SECRET_BACKEND_VAULT);
    mason_secret_uri_scheme(ref, &scheme, &err);
    if (mason_secrets_parse_duration(ref, &seconds) == 0 && seconds > 86400)
        abort();
    mason_buf_release(&scheme);
    mason_buf_release(&err);
    free(ref);
    return 0;
}
