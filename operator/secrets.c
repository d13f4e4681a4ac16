/* The secret resolver: backends by scheme, the per-name cache and env resolution (see secrets.h).
 */
#include "secrets.h"

#include <ctype.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "error.h"
#include "banned.h"

#define MAX_CACHE_ENTRIES 10000
#define MAX_FLIGHT_RETRIES 3
#define SWEEP_INTERVAL_SECONDS 1

enum entry_state { ENTRY_EMPTY, ENTRY_LOADING, ENTRY_READY, ENTRY_FAILED };

/* One cached secret: the whole document of one name in one backend. */
struct cache_entry {
    struct cache_entry *next;
    size_t backend;
    char *name;
    enum entry_state state;
    char *value; /* ENTRY_READY: the document, wiped before it is freed */
    size_t len;
    time_t expires;
    unsigned flight;  /* number of the latest backend call started */
    unsigned done;    /* number of the latest backend call finished */
    int result;       /* ENTRY_FAILED: the error of flight number done */
    char *message;    /* ENTRY_FAILED: what the backend reported */
    unsigned waiters; /* lookups waiting for the running backend call */
};

struct mason_secrets {
    struct mason_secrets_config cfg;
    struct mason_secret_backend **backends; /* parallel to cfg.backends; NULL for k8s */
    pthread_mutex_t lock;
    pthread_cond_t done;
    pthread_cond_t stop_sweeper;
    pthread_t sweeper;
    bool sweeper_running;
    bool stopping;
    struct cache_entry *entries;
    time_t (*now)(void *arg);
    void *now_arg;
    struct mason_secrets_stats stats;
};

struct mason_secret_item {
    char *key;
    char *value;
    size_t len;
};

struct mason_secret_data {
    struct mason_secret_item *items;
    size_t count;
};

void mason_secrets_buf_wipe(struct mason_buf *b)
{
    if (b->data)
        explicit_bzero(b->data, b->alloc);
    mason_buf_release(b);
}

static void wipe_free(char *p, size_t len)
{
    if (p)
        explicit_bzero(p, len);
    free(p);
}

static time_t clock_now(struct mason_secrets *s)
{
    return s->now ? s->now(s->now_arg) : time(NULL);
}

static void entry_free(struct cache_entry *e)
{
    wipe_free(e->value, e->len);
    free(e->message);
    free(e->name);
    free(e);
}

static struct mason_secret_backend *create_backend(const struct mason_secret_backend_config *b,
                                                   struct mason_buf *err)
{
    struct mason_secret_backend *backend = NULL;

    if (b->kind == MASON_SECRET_BACKEND_AWS_SM)
        backend = mason_secrets_aws_backend_create(b, err);
    else if (b->kind == MASON_SECRET_BACKEND_VAULT)
        backend = mason_secrets_vault_backend_create(b, err);
    return backend;
}

static void evict_locked(struct mason_secrets *s, time_t now);

/*
 * Evicts expired entries every SWEEP_INTERVAL_SECONDS until the resolver is
 * freed, so no value stays in memory much past its TTL even when no lookup
 * comes.
 */
static void *sweep_main(void *arg)
{
    struct mason_secrets *s = arg;
    struct timespec deadline;

    pthread_mutex_lock(&s->lock);
    while (!s->stopping) {
        clock_gettime(CLOCK_REALTIME, &deadline);
        deadline.tv_sec += SWEEP_INTERVAL_SECONDS;
        pthread_cond_timedwait(&s->stop_sweeper, &s->lock, &deadline);
        evict_locked(s, clock_now(s));
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

struct mason_secrets *mason_secrets_create(struct mason_secrets_config *cfg, struct mason_buf *err)
{
    struct mason_secrets *s = calloc(1, sizeof(*s));

    if (!s) {
        mason_secrets_config_release(cfg);
        return NULL;
    }
    s->cfg = *cfg;
    memset(cfg, 0, sizeof(*cfg));
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->done, NULL);
    pthread_cond_init(&s->stop_sweeper, NULL);
    s->backends = calloc(s->cfg.backend_count + 1, sizeof(*s->backends));
    if (!s->backends)
        goto fail;
    for (size_t i = 0; i < s->cfg.backend_count; i++) {
        if (s->cfg.backends[i].kind == MASON_SECRET_BACKEND_K8S)
            continue;
        s->backends[i] = create_backend(&s->cfg.backends[i], err);
        if (!s->backends[i])
            goto fail;
    }
    if (pthread_create(&s->sweeper, NULL, sweep_main, s)) {
        mason_buf_adds(err, "cannot start the secret cache sweeper thread");
        goto fail;
    }
    s->sweeper_running = true;
    return s;

fail:
    mason_secrets_free(s);
    return NULL;
}

void mason_secrets_free(struct mason_secrets *s)
{
    if (!s)
        return;
    if (s->sweeper_running) {
        pthread_mutex_lock(&s->lock);
        s->stopping = true;
        pthread_cond_signal(&s->stop_sweeper);
        pthread_mutex_unlock(&s->lock);
        pthread_join(s->sweeper, NULL);
    }
    while (s->entries) {
        struct cache_entry *next = s->entries->next;

        entry_free(s->entries);
        s->entries = next;
    }
    for (size_t i = 0; s->backends && i < s->cfg.backend_count; i++)
        if (s->backends[i])
            s->backends[i]->destroy(s->backends[i]);
    free(s->backends);
    mason_secrets_config_release(&s->cfg);
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->done);
    pthread_cond_destroy(&s->stop_sweeper);
    free(s);
}

static int find_backend(const struct mason_secrets *s, const char *scheme, size_t *index)
{
    for (size_t i = 0; i < s->cfg.backend_count; i++) {
        if (!strcmp(s->cfg.backends[i].scheme, scheme)) {
            *index = i;
            return 0;
        }
    }
    return MASON_ENOTFOUND;
}

int mason_secrets_set_backend(struct mason_secrets *s, const char *scheme,
                              struct mason_secret_backend *backend)
{
    size_t i;

    if (find_backend(s, scheme, &i)) {
        backend->destroy(backend);
        return MASON_ENOTFOUND;
    }
    if (s->backends[i])
        s->backends[i]->destroy(s->backends[i]);
    s->backends[i] = backend;
    return 0;
}

void mason_secrets_set_clock(struct mason_secrets *s, time_t (*now)(void *arg), void *arg)
{
    pthread_mutex_lock(&s->lock);
    s->now = now;
    s->now_arg = arg;
    pthread_mutex_unlock(&s->lock);
}

static bool entry_removable(const struct cache_entry *e, time_t now)
{
    if (e->state == ENTRY_LOADING || e->waiters > 0)
        return false;
    return e->state != ENTRY_READY || now >= e->expires;
}

static void evict_locked(struct mason_secrets *s, time_t now)
{
    struct cache_entry **link = &s->entries;

    while (*link) {
        struct cache_entry *e = *link;

        if (entry_removable(e, now)) {
            *link = e->next;
            entry_free(e);
            s->stats.entries--;
        } else {
            link = &e->next;
        }
    }
}

void mason_secrets_evict_expired(struct mason_secrets *s)
{
    pthread_mutex_lock(&s->lock);
    evict_locked(s, clock_now(s));
    pthread_mutex_unlock(&s->lock);
}

void mason_secrets_get_stats(struct mason_secrets *s, struct mason_secrets_stats *out)
{
    pthread_mutex_lock(&s->lock);
    *out = s->stats;
    pthread_mutex_unlock(&s->lock);
}

static struct cache_entry *find_or_add_entry(struct mason_secrets *s, size_t backend,
                                             const char *name)
{
    struct cache_entry *e;

    for (e = s->entries; e; e = e->next)
        if (e->backend == backend && !strcmp(e->name, name))
            return e;
    if (s->stats.entries >= MAX_CACHE_ENTRIES)
        return NULL;
    e = calloc(1, sizeof(*e));
    if (!e)
        return NULL;
    e->name = strdup(name);
    if (!e->name) {
        free(e);
        return NULL;
    }
    e->backend = backend;
    e->next = s->entries;
    s->entries = e;
    s->stats.entries++;
    return e;
}

/* Copies the outcome of the entry's last finished backend call. Called with the lock held. */
static int copy_outcome(const struct cache_entry *e, struct mason_buf *doc, struct mason_buf *msg)
{
    if (e->state == ENTRY_READY)
        return mason_buf_add(doc, e->value, e->len);
    mason_buf_adds(msg, e->message ? e->message : "the backend call failed");
    return e->result;
}

/* Waits for the running backend call of e. Returns 1 when a newer call replaced it. */
static int wait_for_flight(struct mason_secrets *s, struct cache_entry *e, struct mason_buf *doc,
                           struct mason_buf *msg, int *rc)
{
    unsigned flight = e->flight;

    e->waiters++;
    s->stats.shared++;
    while (e->done != flight)
        pthread_cond_wait(&s->done, &s->lock);
    e->waiters--;
    if (e->flight != flight)
        return 1;
    *rc = copy_outcome(e, doc, msg);
    return 0;
}

/* Runs the backend call for e without the lock and stores its outcome. Called with the lock held.
 */
static int run_flight(struct mason_secrets *s, struct cache_entry *e, struct mason_buf *doc,
                      struct mason_buf *msg)
{
    struct mason_secret_backend *backend = s->backends[e->backend];
    struct mason_buf fetched, report = MASON_BUF_INIT;
    unsigned flight;
    int rc;

    wipe_free(e->value, e->len);
    e->value = NULL;
    e->len = 0;
    e->state = ENTRY_LOADING;
    flight = ++e->flight;
    s->stats.backend_calls++;
    pthread_mutex_unlock(&s->lock);

    mason_buf_init(&fetched, MASON_SECRETS_MAX_VALUE_BYTES);
    mason_buf_init(&report, 4096);
    rc = backend->fetch(backend, e->name, &fetched, &report);

    pthread_mutex_lock(&s->lock);
    free(e->message);
    e->message = NULL;
    if (!rc) {
        e->len = fetched.len;
        e->value = mason_buf_detach(&fetched);
        e->state = e->value ? ENTRY_READY : ENTRY_FAILED;
        rc = e->value ? 0 : MASON_ENOMEM;
        e->expires = clock_now(s) + (time_t)s->cfg.backends[e->backend].cache_ttl_seconds;
    }
    if (rc) {
        e->state = ENTRY_FAILED;
        e->result = rc;
        e->message = strdup(mason_buf_str(&report));
    }
    e->done = flight;
    pthread_cond_broadcast(&s->done);
    mason_secrets_buf_wipe(&fetched);
    mason_buf_release(&report);
    return copy_outcome(e, doc, msg);
}

/*
 * Returns the document of name from the cache, or fetches it. Only one backend
 * call per name runs at a time: lookups that arrive meanwhile wait for its
 * outcome, so concurrent lookups of one name make a single request.
 */
static int cached_fetch(struct mason_secrets *s, size_t backend, const char *name,
                        struct mason_buf *doc, struct mason_buf *msg)
{
    struct cache_entry *e;
    time_t now;
    int rc = MASON_EUNAVAILABLE;

    pthread_mutex_lock(&s->lock);
    s->stats.lookups++;
    for (int attempt = 0; attempt < MAX_FLIGHT_RETRIES; attempt++) {
        now = clock_now(s);
        evict_locked(s, now);
        e = find_or_add_entry(s, backend, name);
        if (!e) {
            mason_buf_adds(msg, "the secret cache is full or out of memory");
            rc = MASON_ENOMEM;
            break;
        }
        if (e->state == ENTRY_READY && now < e->expires) {
            s->stats.hits++;
            rc = mason_buf_add(doc, e->value, e->len);
            break;
        }
        if (e->state != ENTRY_LOADING) {
            rc = run_flight(s, e, doc, msg);
            break;
        }
        if (!wait_for_flight(s, e, doc, msg, &rc))
            break;
    }
    pthread_mutex_unlock(&s->lock);
    return rc;
}

/* Appends the value of field (or all of doc when field is NULL) to out. */
static int extract_field(const struct mason_buf *doc, const struct mason_secret_uri *uri,
                         const char *context, struct mason_buf *out, struct mason_secret_failure *f)
{
    json_t *root, *value;
    char *encoded;
    int rc;

    if (!uri->field)
        return mason_buf_add(out, doc->data ? doc->data : "", doc->len);
    /* The parse error text is not reported because it may quote the secret. */
    root = json_loadb(doc->data ? doc->data : "", doc->len, 0, NULL);
    if (!json_is_object(root)) {
        json_decref(root);
        f->reason = "SecretFieldNotFound";
        mason_buf_addf(
            &f->message,
            "%s: secret \"%s\" is not a JSON object, so field \"%s\" cannot be read; remove \"#%s\" to use the whole value",
            context, uri->name, uri->field, uri->field);
        return MASON_ENOTFOUND;
    }
    value = json_object_get(root, uri->field);
    if (!value) {
        json_decref(root);
        f->reason = "SecretFieldNotFound";
        mason_buf_addf(
            &f->message,
            "%s: secret \"%s\" has no field \"%s\"; fix the field after '#' in the reference",
            context, uri->name, uri->field);
        return MASON_ENOTFOUND;
    }
    if (json_is_string(value))
        rc = mason_buf_add(out, json_string_value(value), json_string_length(value));
    else {
        encoded = json_dumps(value, JSON_ENCODE_ANY | JSON_COMPACT);
        rc = encoded ? mason_buf_adds(out, encoded) : MASON_ENOMEM;
        wipe_free(encoded, encoded ? strlen(encoded) : 0);
    }
    /* NOTE: jansson frees its copies of the parsed values without wiping them. */
    json_decref(root);
    return rc;
}

static const char *reason_for(int rc)
{
    switch (rc) {
    case MASON_ENOTFOUND:
        return "SecretNotFound";
    case MASON_EFORBIDDEN:
    case MASON_EUNAUTHORIZED:
        return "SecretAccessDenied";
    case MASON_ETIMEOUT:
    case MASON_ECONNECT:
    case MASON_EUNAVAILABLE:
    case MASON_ETHROTTLED:
        return "SecretBackendUnavailable";
    default:
        return "SecretBackendFailed";
    }
}

static void fail_backend(struct mason_secret_failure *f, int rc, const char *context,
                         const char *scheme, const char *name, const struct mason_buf *msg)
{
    f->reason = reason_for(rc);
    mason_buf_reset(&f->message);
    mason_buf_addf(&f->message, "%s: reading secret \"%s\" through backend \"%s\" failed: %s",
                   context, name, scheme, msg->len ? mason_buf_str(msg) : mason_strerror(rc));
    if (rc == MASON_ENOTFOUND)
        mason_buf_adds(&f->message, "; create the secret or fix the name in the reference");
}

/* Resolves an external reference whose backend index is known. */
static int lookup_parsed(struct mason_secrets *s, size_t backend,
                         const struct mason_secret_uri *uri, const char *context,
                         struct mason_buf *value, struct mason_secret_failure *f)
{
    struct mason_buf doc, msg;
    int rc;

    mason_buf_init(&doc, MASON_SECRETS_MAX_VALUE_BYTES);
    mason_buf_init(&msg, 4096);
    rc = cached_fetch(s, backend, uri->name, &doc, &msg);
    if (rc)
        fail_backend(f, rc, context, uri->scheme, uri->name, &msg);
    else
        rc = extract_field(&doc, uri, context, value, f);
    mason_secrets_buf_wipe(&doc);
    mason_buf_release(&msg);
    return rc;
}

/* Finds the backend of ref's scheme and parses ref for it. */
static int parse_ref(const struct mason_secrets *s, const char *ref, const char *context,
                     size_t *backend, struct mason_secret_uri *uri, struct mason_secret_failure *f)
{
    struct mason_buf scheme = MASON_BUF_INIT, msg = MASON_BUF_INIT;
    int rc = mason_secret_uri_scheme(ref, &scheme, &msg);

    if (!rc && find_backend(s, mason_buf_str(&scheme), backend)) {
        f->reason = "UnknownSecretScheme";
        mason_buf_addf(
            &f->message,
            "%s: no backend in secret_resolver.backends has scheme \"%s\"; use a configured scheme",
            context, mason_buf_str(&scheme));
        rc = MASON_ENOTFOUND;
    } else if (!rc) {
        rc = mason_secret_uri_parse(ref, s->cfg.backends[*backend].kind, uri, &msg);
    }
    if (rc && !f->reason) {
        f->reason = "InvalidSecretRef";
        mason_buf_addf(&f->message, "%s: invalid secret reference \"%s\": %s", context, ref,
                       mason_buf_str(&msg));
    }
    mason_buf_release(&scheme);
    mason_buf_release(&msg);
    return rc;
}

int mason_secrets_lookup(struct mason_secrets *s, const char *ref, struct mason_buf *value,
                         struct mason_secret_failure *f)
{
    struct mason_secret_uri uri = {0};
    struct mason_buf context = MASON_BUF_INIT;
    size_t backend;
    int rc;

    mason_buf_addf(&context, "secret reference \"%s\"", ref ? ref : "");
    rc = parse_ref(s, ref, mason_buf_str(&context), &backend, &uri, f);
    if (!rc && s->cfg.backends[backend].kind == MASON_SECRET_BACKEND_K8S) {
        f->reason = "InvalidSecretRef";
        mason_buf_addf(
            &f->message,
            "%s: k8s references become secretKeyRef entries and are never read by the operator",
            mason_buf_str(&context));
        rc = MASON_EINVAL;
    }
    if (!rc)
        rc = lookup_parsed(s, backend, &uri, mason_buf_str(&context), value, f);
    mason_secret_uri_release(&uri);
    mason_buf_release(&context);
    return rc;
}

void mason_secret_data_free(struct mason_secret_data *data)
{
    if (!data)
        return;
    for (size_t i = 0; i < data->count; i++) {
        free(data->items[i].key);
        wipe_free(data->items[i].value, data->items[i].len);
    }
    free(data->items);
    free(data);
}

size_t mason_secret_data_count(const struct mason_secret_data *data)
{
    return data ? data->count : 0;
}

const char *mason_secret_data_get(const struct mason_secret_data *data, const char *key,
                                  size_t *len)
{
    for (size_t i = 0; data && i < data->count; i++) {
        if (!strcmp(data->items[i].key, key)) {
            if (len)
                *len = data->items[i].len;
            return data->items[i].value;
        }
    }
    return NULL;
}

/* Moves value into data under key. The caller's buffer is left empty. */
static int data_add(struct mason_secret_data *data, size_t capacity, const char *key,
                    struct mason_buf *value)
{
    struct mason_secret_item *item = &data->items[data->count];

    if (data->count >= capacity)
        return MASON_EINVAL;
    item->key = strdup(key);
    item->len = value->len;
    if (!item->key)
        return MASON_ENOMEM;
    if (mason_buf_add(value, "", 0)) {
        free(item->key);
        return MASON_ENOMEM;
    }
    item->value = mason_buf_detach(value);
    data->count++;
    return 0;
}

static bool valid_env_name(const char *name)
{
    if (!name || !*name || strlen(name) > 253 || isdigit((unsigned char)name[0]))
        return false;
    for (const char *p = name; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '_')
            return false;
    return true;
}

/* Applies blocked_env_patterns to an entry without secretRef, as the webhook does at admission. */
static int check_env_name(const struct mason_secrets_policy *policy, const char *name,
                          struct mason_secret_failure *f)
{
    struct mason_secrets_policy names_only = *policy;

    names_only.allowed_scheme_count = 0;
    return mason_secrets_policy_check(&names_only, name, "", f);
}

/* Checks one spec.env entry: its name, and for a secretRef the scheme, policy and syntax. */
static int check_env_entry(const struct mason_secrets *s, const json_t *env, size_t index,
                           struct mason_secret_failure *f)
{
    const json_t *entry = json_array_get(env, index);
    const char *name = json_string_value(json_object_get(entry, "name"));
    const char *ref = json_string_value(json_object_get(entry, "secretRef"));
    struct mason_secret_uri uri = {0};
    struct mason_buf context = MASON_BUF_INIT;
    size_t backend;
    int rc = 0;

    if (!valid_env_name(name)) {
        f->reason = "InvalidEnv";
        mason_buf_addf(
            &f->message,
            "env[%zu]: name is missing or invalid (expected letters, digits and '_', not starting with a digit)",
            index);
        return MASON_EINVAL;
    }
    for (size_t j = 0; j < index; j++) {
        if (!strcmp(name, json_string_value(json_object_get(json_array_get(env, j), "name")))) {
            f->reason = "InvalidEnv";
            mason_buf_addf(&f->message, "env %s: the name appears more than once", name);
            return MASON_EINVAL;
        }
    }
    if (!json_object_get(entry, "secretRef"))
        return check_env_name(&s->cfg.policy, name, f);
    mason_buf_addf(&context, "env %s", name);
    if (!ref) {
        f->reason = "InvalidSecretRef";
        mason_buf_addf(&f->message, "env %s: secretRef must be a string", name);
        rc = MASON_EINVAL;
    }
    if (!rc)
        rc = parse_ref(s, ref, mason_buf_str(&context), &backend, &uri, f);
    if (!rc)
        rc = mason_secrets_policy_check(&s->cfg.policy, name, uri.scheme, f);
    mason_secret_uri_release(&uri);
    mason_buf_release(&context);
    return rc;
}

static json_t *secret_key_ref(const char *env_name, const char *secret, const char *key)
{
    return json_pack("{s:s, s:{s:{s:s, s:s}}}", "name", env_name, "valueFrom", "secretKeyRef",
                     "name", secret, "key", key);
}

/* Builds the container env entry for one secretRef, fetching its value when it is external. */
static json_t *resolve_ref(struct mason_secrets *s, const char *name, const char *ref,
                           const char *run_secret_name, struct mason_secret_data *data,
                           size_t capacity, struct mason_secret_failure *f, int *rc)
{
    struct mason_secret_uri uri = {0};
    struct mason_buf context = MASON_BUF_INIT, value;
    json_t *out = NULL;
    size_t backend;

    mason_buf_init(&value, MASON_SECRETS_MAX_VALUE_BYTES);
    mason_buf_addf(&context, "env %s", name);
    *rc = parse_ref(s, ref, mason_buf_str(&context), &backend, &uri, f);
    if (!*rc && s->cfg.backends[backend].kind == MASON_SECRET_BACKEND_K8S) {
        char *slash = strchr(uri.name, '/');

        *slash = '\0';
        out = secret_key_ref(name, uri.name, slash + 1);
    } else if (!*rc) {
        *rc = lookup_parsed(s, backend, &uri, mason_buf_str(&context), &value, f);
        if (!*rc)
            *rc = data_add(data, capacity, name, &value);
        if (!*rc)
            out = secret_key_ref(name, run_secret_name, name);
    }
    if (!*rc && !out)
        *rc = MASON_ENOMEM;
    mason_secrets_buf_wipe(&value);
    mason_secret_uri_release(&uri);
    mason_buf_release(&context);
    return out;
}

static json_t *env_entry(struct mason_secrets *s, const json_t *entry, const char *run_secret_name,
                         struct mason_secret_data *data, size_t capacity,
                         struct mason_secret_failure *f, int *rc)
{
    const char *name = json_string_value(json_object_get(entry, "name"));
    const json_t *ref = json_object_get(entry, "secretRef");

    *rc = 0;
    if (ref)
        return resolve_ref(s, name, json_string_value(ref), run_secret_name, data, capacity, f, rc);
    /* Entries with value or valueFrom pass through unchanged. */
    return json_deep_copy(entry);
}

int mason_secrets_resolve_env(struct mason_secrets *s, const json_t *env,
                              const char *run_secret_name, json_t **container_env,
                              struct mason_secret_data **data, struct mason_secret_failure *f)
{
    size_t n = json_array_size(env);
    struct mason_secret_data *out_data = NULL;
    json_t *out_env = NULL, *item;
    int rc = 0;

    *container_env = NULL;
    *data = NULL;
    if (env && !json_is_array(env)) {
        f->reason = "InvalidEnv";
        mason_buf_adds(&f->message, "env: must be a list");
        return MASON_EINVAL;
    }
    for (size_t i = 0; i < n && !rc; i++)
        rc = check_env_entry(s, env, i, f);
    if (rc)
        return rc;
    out_env = json_array();
    out_data = calloc(1, sizeof(*out_data));
    if (out_data)
        out_data->items = calloc(n + 1, sizeof(*out_data->items));
    if (!out_env || !out_data || !out_data->items) {
        rc = MASON_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < n && !rc; i++) {
        item = env_entry(s, json_array_get(env, i), run_secret_name, out_data, n, f, &rc);
        if (!rc && json_array_append_new(out_env, item))
            rc = MASON_ENOMEM;
    }

out:
    if (rc) {
        json_decref(out_env);
        mason_secret_data_free(out_data);
        return rc;
    }
    *container_env = out_env;
    if (out_data->count)
        *data = out_data;
    else
        mason_secret_data_free(out_data);
    return 0;
}

/* Appends s cut to max bytes, without trailing characters that object names cannot end with. */
static int add_name_part(struct mason_buf *out, const char *s, size_t max)
{
    size_t len = strlen(s);

    if (len > max)
        len = max;
    while (len > 0 && !isalnum((unsigned char)s[len - 1]))
        len--;
    return mason_buf_add(out, s, len);
}

int mason_secrets_run_secret_name(const struct mason_run_secret_owner *owner, struct mason_buf *out)
{
    int rc = add_name_part(out, owner->task_name, 200);

    if (!rc)
        rc = mason_buf_adds(out, "-");
    if (!rc)
        rc = add_name_part(out, owner->run, 48);
    if (!rc)
        rc = mason_buf_adds(out, "-env");
    return rc;
}

static json_t *base64_string(const char *value, size_t len)
{
    size_t size = 4 * ((len + 2) / 3) + 1;
    unsigned char *encoded = malloc(size);
    json_t *str;

    if (!encoded)
        return NULL;
    EVP_EncodeBlock(encoded, (const unsigned char *)value, (int)len);
    str = json_string((const char *)encoded);
    wipe_free((char *)encoded, size);
    return str;
}

/* Returns a label value: at most 63 characters, ending with a letter or digit. */
static json_t *label_value(const char *s)
{
    struct mason_buf b = MASON_BUF_INIT;
    json_t *v;

    add_name_part(&b, s ? s : "", 63);
    v = json_string(mason_buf_str(&b));
    mason_buf_release(&b);
    return v;
}

static json_t *run_secret_data(const struct mason_secret_data *data)
{
    json_t *obj = json_object();

    for (size_t i = 0; obj && data && i < data->count; i++) {
        json_t *v = base64_string(data->items[i].value, data->items[i].len);

        if (!v || json_object_set_new(obj, data->items[i].key, v)) {
            json_decref(obj);
            return NULL;
        }
    }
    return obj;
}

json_t *mason_secrets_build_run_secret(const struct mason_run_secret_owner *owner, const char *name,
                                       const struct mason_secret_data *data)
{
    json_t *values = run_secret_data(data);

    if (!values)
        return NULL;
    return json_pack(
        "{s:s, s:s, s:{s:s, s:s, s:{s:o, s:o, s:s}, s:[{s:s, s:s, s:s, s:s, s:b, s:b}]}, s:s, s:o}",
        "apiVersion", "v1", "kind", "Secret", "metadata", "name", name, "namespace",
        owner->namespace, "labels", "mason.dev/task", label_value(owner->task_name),
        "mason.dev/run", label_value(owner->run), "app.kubernetes.io/managed-by", "mason",
        "ownerReferences", "apiVersion", "mason.dev/v1alpha1", "kind", "AgentTask", "name",
        owner->task_name, "uid", owner->task_uid, "controller", 1, "blockOwnerDeletion", 1, "type",
        "Opaque", "data", values);
}
