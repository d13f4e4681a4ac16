/* A JSON Patch applier for the operations the mutation emits (see patch.h). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "patch.h"
#include "banned.h"

/* Decodes one JSON Pointer token ("~1" is "/", "~0" is "~") into out. */
static int decode_token(const char *start, size_t len, struct mason_buf *out)
{
    mason_buf_reset(out);
    for (size_t i = 0; i < len; i++) {
        char c = start[i];

        if (c == '~' && i + 1 < len && (start[i + 1] == '0' || start[i + 1] == '1'))
            c = start[++i] == '0' ? '~' : '/';
        else if (c == '~')
            return MASON_EINVAL;
        if (mason_buf_add(out, &c, 1))
            return MASON_ENOMEM;
    }
    return mason_buf_add(out, "", 0);
}

static int parse_index(const char *token, size_t max, size_t *index)
{
    char *end;
    unsigned long long v;

    if (!*token || (token[0] == '0' && token[1]) || token[0] == '-' || token[0] == '+')
        return MASON_EINVAL;
    v = strtoull(token, &end, 10);
    if (*end || v > max)
        return MASON_EINVAL;
    *index = (size_t)v;
    return 0;
}

/* Finds the parent of path's last token; *last gets that token. */
static int resolve_parent(json_t *doc, const char *path, json_t **parent, struct mason_buf *last)
{
    json_t *node = doc;
    const char *p = path;

    if (*p != '/')
        return MASON_EINVAL;
    for (;;) {
        const char *next = strchr(p + 1, '/');
        size_t len = next ? (size_t)(next - p - 1) : strlen(p + 1);
        size_t index;

        if (decode_token(p + 1, len, last))
            return MASON_EINVAL;
        if (!next)
            break;
        if (json_is_object(node))
            node = json_object_get(node, mason_buf_str(last));
        else if (json_is_array(node) && !parse_index(mason_buf_str(last), SIZE_MAX, &index))
            node = json_array_get(node, index);
        else
            node = NULL;
        if (!node)
            return MASON_EINVAL;
        p = next;
    }
    *parent = node;
    return 0;
}

static int apply_one(json_t *doc, const char *op, const char *path, json_t *value)
{
    struct mason_buf token = MASON_BUF_INIT;
    json_t *parent = NULL;
    const char *key;
    size_t index, size;
    int rc = resolve_parent(doc, path, &parent, &token);

    key = mason_buf_str(&token);
    if (rc) {
        mason_buf_release(&token);
        return MASON_EINVAL;
    }
    if (json_is_object(parent)) {
        if (!strcmp(op, "add"))
            rc = value ? json_object_set(parent, key, value) : MASON_EINVAL;
        else if (!json_object_get(parent, key))
            rc = MASON_EINVAL;
        else if (!strcmp(op, "remove"))
            rc = json_object_del(parent, key);
        else
            rc = value ? json_object_set(parent, key, value) : MASON_EINVAL;
    } else if (json_is_array(parent)) {
        size = json_array_size(parent);
        if (!strcmp(op, "add") && !strcmp(key, "-"))
            rc = value ? json_array_append(parent, value) : MASON_EINVAL;
        else if (parse_index(key, !strcmp(op, "add") ? size : size - 1, &index) ||
                 (size == 0 && strcmp(op, "add")))
            rc = MASON_EINVAL;
        else if (!strcmp(op, "add"))
            rc = value ? json_array_insert(parent, index, value) : MASON_EINVAL;
        else if (!strcmp(op, "remove"))
            rc = json_array_remove(parent, index);
        else
            rc = value ? json_array_set(parent, index, value) : MASON_EINVAL;
    } else {
        rc = MASON_EINVAL;
    }
    mason_buf_release(&token);
    return rc ? MASON_EINVAL : 0;
}

int mason_patch_apply(json_t *doc, const json_t *patch, struct mason_buf *err)
{
    size_t i;
    json_t *item;

    if (!json_is_array(patch)) {
        mason_buf_adds(err, "patch must be a JSON array");
        return MASON_EINVAL;
    }
    json_array_foreach(patch, i, item)
    {
        const char *op = json_string_value(json_object_get(item, "op"));
        const char *path = json_string_value(json_object_get(item, "path"));

        if (!op || !path || (strcmp(op, "add") && strcmp(op, "remove") && strcmp(op, "replace"))) {
            mason_buf_addf(err, "patch[%zu]: unsupported or incomplete operation", i);
            return MASON_EINVAL;
        }
        if (apply_one(doc, op, path, json_object_get(item, "value"))) {
            mason_buf_addf(err, "patch[%zu]: %s %s does not apply", i, op, path);
            return MASON_EINVAL;
        }
    }
    return 0;
}
