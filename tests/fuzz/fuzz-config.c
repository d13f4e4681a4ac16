/*
 * Fuzzes the operator's configuration loader: YAML through libcyaml, the
 * key checks, the engines, guardrails, pricing, scoring and secret resolver
 * sections. A file either loads or is rejected with a message.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "buf.h"
#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct mason_config *cfg = NULL;
    struct mason_buf err = MASON_BUF_INIT;
    int rc;

    rc = mason_config_parse((const char *)data, size, &cfg, &err);
    if (rc != 0 && err.len == 0)
        abort(); /* a rejected file must come with a message */
    mason_config_free(cfg);
    mason_buf_release(&err);
    return 0;
}
