/* Fuzzes the YAML-to-JSON converter, in single-document and multi-document mode. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "buf.h"
#include "yaml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct mason_buf err = MASON_BUF_INIT;
    json_t *out = NULL;
    char *text;

    if (mason_yaml_to_json((const char *)data, size, &out, &err) == 0) {
        /* Whatever the converter accepts must serialise as JSON. */
        text = json_dumps(out, JSON_ENCODE_ANY);
        if (!text)
            __builtin_trap();
        free(text);
    }
    json_decref(out);
    out = NULL;
    mason_buf_reset(&err);
    if (mason_yaml_to_json_all((const char *)data, size, &out, &err) == 0 && !json_is_array(out))
        __builtin_trap();
    json_decref(out);
    mason_buf_release(&err);
    return 0;
}
