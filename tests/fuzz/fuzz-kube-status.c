/*
 * Fuzzes the mapping of API server replies to error codes: the first two
 * bytes give the HTTP status (100-599) and the rest is the reply body.
 */
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "error.h"
#include "kube.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct mason_buf err = MASON_BUF_INIT;
    long status;
    int rc;

    if (size < 2)
        return 0;
    status = 100 + (long)(((unsigned)data[0] << 8 | data[1]) % 500);
    rc = mason_kube_status_error(status, (const char *)data + 2, size - 2, &err);
    /* 2xx is success; every other status is an error with a message. */
    if ((rc == 0) != (status >= 200 && status <= 299))
        __builtin_trap();
    if (rc != 0 && err.len == 0)
        __builtin_trap();
    mason_buf_release(&err);
    return 0;
}
