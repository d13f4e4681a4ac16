/*
 * Fuzzes kubeconfig parsing: YAML, the current-context lookup, base64 data
 * fields and error messages. Relative file names resolve against a directory
 * that does not exist, and inputs with an absolute path anywhere are skipped,
 * so the fuzzer never reads files of the machine it runs on.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "kubeconfig.h"
#include "yaml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool has_absolute_path(json_t *value)
{
    const char *key;
    json_t *child;
    size_t i;

    if (json_is_string(value))
        return json_string_value(value)[0] == '/';
    json_object_foreach(value, key, child)
    {
        if (has_absolute_path(child))
            return true;
    }
    json_array_foreach(value, i, child)
    {
        if (has_absolute_path(child))
            return true;
    }
    return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct mason_kube_config cfg;
    struct mason_buf err = MASON_BUF_INIT;
    json_t *tree = NULL;
    bool skip;

    if (mason_yaml_to_json((const char *)data, size, &tree, NULL) != 0)
        return 0;
    skip = has_absolute_path(tree);
    json_decref(tree);
    if (skip)
        return 0;
    mason_kube_config_init(&cfg);
    if (mason_kube_config_parse(&cfg, (const char *)data, size, "nonexistent-fuzz-dir", &err) ==
        0) {
        /* A successful parse always yields a server and a namespace. */
        if (!cfg.server || !cfg.namespace)
            __builtin_trap();
    }
    mason_kube_config_release(&cfg);
    mason_buf_release(&err);
    return 0;
}
