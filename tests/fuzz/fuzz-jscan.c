/*
 * Fuzzes the JSON reader. Each input is one document, and the reader must
 * agree with jansson where jansson defines the result: the same verdict
 * (inputs with a NUL byte aside, see below), and for each object and array
 * the same canonical bytes as json_dumps. Every token is then walked: strings decoded
 * whole and cut, numbers read, children iterated up to the recorded sibling
 * index, and every key looked up.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "buf.h"
#include "error.h"
#include "jscan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_canonical(struct mason_jscan *js, int i)
{
    struct mason_buf out = MASON_BUF_INIT;
    size_t len;
    const char *text = mason_jscan_span(js, i, &len);
    json_t *v = json_loadb(text, len, JSON_DECODE_ANY, NULL);
    int rc = mason_jscan_write_canonical(js, i, &out);

    if (!v)
        abort(); /* a value the reader accepted, alone, must load */
    if (rc == 0) {
        char *want = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);

        if (want && strcmp(want, mason_buf_str(&out)) != 0)
            abort();
        free(want);
    } else if (rc != MASON_EINVAL && rc != MASON_ENOMEM) {
        abort();
    }
    json_decref(v);
    mason_buf_release(&out);
}

static void walk_container(struct mason_jscan *js, int i)
{
    const struct mason_jscan_token *t = &js->tokens[i];
    int last = i;

    for (int c = mason_jscan_first(js, i); c >= 0; c = mason_jscan_next(js, i, c)) {
        if (c <= last || (uint32_t)c >= t->next)
            abort();
        last = c;
        if (t->type == MASON_JSCAN_OBJECT) {
            const char *key = mason_jscan_string(js, c);

            if (mason_jscan_type(js, c) != MASON_JSCAN_STRING)
                abort();
            /* With duplicate keys the last wins, so the value found is this one or later. */
            if (key && mason_jscan_get(js, i, key) < c + 1)
                abort();
        }
    }
    check_canonical(js, i);
}

static void walk(struct mason_jscan *js)
{
    for (uint32_t i = 0; i < js->count; i++) {
        const struct mason_jscan_token *t = &js->tokens[i];
        const char *s;
        int64_t n;
        double d;

        if (t->next <= i || t->next > js->count)
            abort();
        switch (t->type) {
        case MASON_JSCAN_STRING:
            s = mason_jscan_string(js, (int)i);
            if (s && strlen(mason_jscan_string_prefix(js, (int)i, t->len / 2)) > t->len / 2)
                abort();
            break;
        case MASON_JSCAN_NUMBER:
            if (!mason_jscan_double(js, (int)i, &d))
                abort();
            (void)mason_jscan_int(js, (int)i, &n);
            break;
        case MASON_JSCAN_OBJECT:
        case MASON_JSCAN_ARRAY:
            walk_container(js, (int)i);
            break;
        default:
            break;
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    struct mason_jscan js;
    json_t *v;
    int rc;

    mason_jscan_init(&js);
    rc = mason_jscan_parse(&js, text, size);
    if (rc == MASON_ENOMEM)
        goto out;
    /*
     * jansson 2.14 skips a NUL byte right after a number or a literal (its
     * one-byte push-back), which the reader rejects: compare only without NUL.
     */
    if (!memchr(text, '\0', size)) {
        v = json_loadb(text, size, JSON_DECODE_ANY, NULL);
        if ((v != NULL) != (rc == 0))
            abort();
        json_decref(v);
    }
    if (rc == 0)
        walk(&js);
out:
    mason_jscan_release(&js);
    return 0;
}
