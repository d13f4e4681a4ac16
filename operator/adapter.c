#include "adapter_internal.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "banned.h"

bool mason_adapter_supported(enum mason_engine_id engine)
{
    return engine == MASON_ENGINE_CLAUDE_CODE || engine == MASON_ENGINE_CODEX;
}

struct mason_adapter *mason_adapter_create(enum mason_engine_id engine, mason_event_fn fn,
                                           void *arg)
{
    struct mason_adapter *a;

    if (!mason_adapter_supported(engine) || !fn)
        return NULL;
    a = calloc(1, sizeof(*a));
    if (!a)
        return NULL;
    a->engine = engine;
    a->fn = fn;
    a->arg = arg;
    a->feed = engine == MASON_ENGINE_CODEX ? adapter_codex_feed : adapter_claude_feed;
    mason_jscan_init(&a->doc);
    /* A canonical form is never longer than its text, plus the {"key":...} of Codex arguments. */
    mason_buf_init(&a->canonical, (size_t)MASON_JSCAN_MAX_LEN + 64);
    return a;
}

void mason_adapter_free(struct mason_adapter *a)
{
    if (!a)
        return;
    adapter_calls_clear(a);
    free(a->calls);
    for (unsigned i = 0; i < ADAPTER_RECENT_MESSAGES; i++)
        free(a->recent_messages[i]);
    free(a->main_message);
    free(a->session_id);
    free(a->model);
    free(a->last_message);
    mason_jscan_release(&a->doc);
    mason_buf_release(&a->canonical);
    EVP_MD_CTX_free(a->md);
    free(a);
}

int mason_adapter_feed(struct mason_adapter *a, const char *line, size_t len)
{
    int rc;

    while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == ' ' || line[len - 1] == '\t'))
        len--;
    while (len > 0 && (*line == ' ' || *line == '\t')) {
        line++;
        len--;
    }
    if (len == 0)
        return 0;
    a->stats.lines++;
    if (*line != '{') {
        a->stats.not_json++;
        return 0;
    }
    rc = mason_jscan_parse(&a->doc, line, len);
    if (rc == MASON_ENOMEM)
        return rc;
    a->type = rc ? -1 : adapter_get(a, 0, "type");
    if (rc || !adapter_is(a, a->type, MASON_JSCAN_STRING)) {
        a->stats.malformed++;
        return a->doc.nomem ? MASON_ENOMEM : 0;
    }
    rc = a->feed(a, 0);
    if (rc == 0 && a->doc.nomem)
        rc = MASON_ENOMEM;
    return rc;
}

void mason_adapter_stats(const struct mason_adapter *a, struct mason_adapter_stats *out)
{
    *out = a->stats;
}

int adapter_set_string(char **slot, const char *s)
{
    char *copy = NULL;

    if (*slot && s && strcmp(*slot, s) == 0)
        return 0;
    if (s) {
        copy = strdup(s);
        if (!copy)
            return MASON_ENOMEM;
    }
    free(*slot);
    *slot = copy;
    return 0;
}

void adapter_emit(struct mason_adapter *a, struct mason_event *ev)
{
    if (!ev->session_id)
        ev->session_id = a->session_id;
    if (!ev->model)
        ev->model = a->model;
    ev->turn = a->turn;
    a->stats.events++;
    a->fn(a->arg, ev);
}

/* Returns whether a key before key k of obj decodes to the same string. */
static bool key_repeated(struct mason_jscan *doc, int obj, int k)
{
    const char *key = mason_jscan_string(doc, k);

    if (!key)
        return false;
    for (int e = mason_jscan_first(doc, obj); e >= 0 && e < k; e = mason_jscan_next(doc, obj, e))
        if (mason_jscan_equals(doc, e, key))
            return true;
    return false;
}

/* Returns whether key k of the line is one of the NULL-terminated list names. */
static bool key_known(struct mason_jscan *doc, int k, const char *const *names)
{
    const struct mason_jscan_token *t = &doc->tokens[k];
    const char *raw = doc->text + t->start;

    for (; *names; names++) {
        /* Most names differ in their first byte: skip those before comparing whole. */
        if (!(t->flags & MASON_JSCAN_ESCAPED) && t->len > 0 && (*names)[0] != raw[0])
            continue;
        if (mason_jscan_equals(doc, k, *names))
            return true;
    }
    return false;
}

void adapter_check_fields(struct mason_adapter *a, int obj, const char *const *known)
{
    struct mason_jscan *doc = &a->doc;

    if (mason_jscan_type(doc, obj) != MASON_JSCAN_OBJECT)
        return;
    for (int k = mason_jscan_first(doc, obj); k >= 0; k = mason_jscan_next(doc, obj, k)) {
        /* jansson kept one member per key, so a repeated unknown key counts once. */
        if (!key_known(doc, k, known) && !key_repeated(doc, obj, k))
            a->stats.unknown_fields++;
    }
}

bool adapter_is(struct mason_adapter *a, int i, enum mason_jscan_type type)
{
    return mason_jscan_type(&a->doc, i) == type;
}

uint64_t adapter_u64(struct mason_adapter *a, int obj, const char *key)
{
    int v = adapter_get(a, obj, key);
    int64_t n;
    double d;

    if (mason_jscan_int(&a->doc, v, &n))
        return n > 0 ? (uint64_t)n : 0;
    if (mason_jscan_double(&a->doc, v, &d) && d > 0 && d < 1e18)
        return (uint64_t)d;
    return 0;
}

/* Parses value i with jansson, for the values the canonical writer leaves to it. */
static json_t *load_value(struct mason_adapter *a, int i)
{
    size_t len;
    const char *text = mason_jscan_span(&a->doc, i, &len);

    return text ? json_loadb(text, len, JSON_DECODE_ANY, NULL) : NULL;
}

/*
 * SHA-256, fetched once per process: a fetch costs microseconds, more than
 * hashing a typical tool input, and the bench creates an adapter per stream.
 * It stays allocated until exit.
 */
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;
static EVP_MD *sha256;

static void sha256_fetch(void)
{
    sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
}

/* Hashes the canonical form in a->canonical into out. */
static int hash_canonical(struct mason_adapter *a, char out[MASON_EVENT_HASH_SIZE])
{
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int digest_len = 0;

    if (pthread_once(&sha256_once, sha256_fetch) != 0 || !sha256)
        return MASON_ENOMEM;
    if (!a->md && !(a->md = EVP_MD_CTX_new()))
        return MASON_ENOMEM;
    if (!EVP_DigestInit_ex2(a->md, sha256, NULL) ||
        !EVP_DigestUpdate(a->md, a->canonical.data, a->canonical.len) ||
        !EVP_DigestFinal_ex(a->md, digest, &digest_len) || digest_len != 32)
        return MASON_ENOMEM;
    mason_event_hex_digest(digest, out);
    return 0;
}

int adapter_hash_value(struct mason_adapter *a, int i, char out[MASON_EVENT_HASH_SIZE])
{
    json_t *value;
    int rc;

    out[0] = '\0';
    if (i < 0)
        return 0;
    mason_buf_reset(&a->canonical);
    rc = mason_jscan_write_canonical(&a->doc, i, &a->canonical);
    if (rc == 0)
        return hash_canonical(a, out);
    if (rc == MASON_ENOMEM)
        return rc;
    value = load_value(a, i);
    if (!value)
        return MASON_ENOMEM;
    rc = mason_event_hash_args(value, out);
    json_decref(value);
    return rc;
}

int adapter_hash_member(struct mason_adapter *a, const char *key, int i,
                        char out[MASON_EVENT_HASH_SIZE])
{
    json_t *args, *value;
    struct mason_buf *b = &a->canonical;
    int rc;

    mason_buf_reset(b);
    rc = mason_buf_addf(b, "{\"%s\":", key);
    if (rc == 0)
        rc = i < 0 ? mason_buf_add(b, "null", 4) : mason_jscan_write_canonical(&a->doc, i, b);
    if (rc == 0)
        rc = mason_buf_add(b, "}", 1);
    if (rc == 0)
        return hash_canonical(a, out);
    if (rc == MASON_ENOMEM)
        return rc;
    value = load_value(a, i);
    args = value ? json_pack("{s:o}", key, value) : NULL;
    if (!args)
        return MASON_ENOMEM;
    rc = mason_event_hash_args(args, out);
    json_decref(args);
    return rc;
}
