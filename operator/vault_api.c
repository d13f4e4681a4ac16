/* Vault request URLs and bodies, and reading Vault replies (see vault.h). */
#include "vault.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "error.h"
#include "sigv4.h"
#include "banned.h"

void mason_vault_lease_release(struct mason_vault_lease *lease)
{
    if (lease->token)
        explicit_bzero(lease->token, strlen(lease->token));
    free(lease->token);
    memset(lease, 0, sizeof(*lease));
}

/* Appends address without trailing slashes. */
static int add_address(const char *address, struct mason_buf *out)
{
    size_t len = strlen(address);

    while (len > 0 && address[len - 1] == '/')
        len--;
    return mason_buf_add(out, address, len);
}

int mason_vault_kv_url(const char *address, const char *kv_mount, const char *name,
                       struct mason_buf *out, struct mason_buf *err)
{
    const char *path = name;
    size_t mount_len;
    int rc;

    if (!kv_mount) {
        const char *slash = strchr(name, '/');

        if (!slash || !slash[1]) {
            mason_buf_addf(
                err,
                "path \"%s\" has no secret after the KV mount (expected vault://<mount>/<path>#<field>, or set config.kv_mount)",
                name);
            return MASON_EINVAL;
        }
        kv_mount = name;
        mount_len = (size_t)(slash - name);
        path = slash + 1;
    } else {
        mount_len = strlen(kv_mount);
    }
    rc = add_address(address, out);
    if (!rc)
        rc = mason_buf_adds(out, "/v1/");
    if (!rc)
        rc = mason_sigv4_uri_encode(kv_mount, mount_len, 1, out);
    if (!rc)
        rc = mason_buf_adds(out, "/data/");
    if (!rc)
        rc = mason_sigv4_uri_encode(path, strlen(path), 1, out);
    return rc;
}

int mason_vault_login_url(const char *address, const char *mount_path, struct mason_buf *out)
{
    int rc = add_address(address, out);

    if (!rc)
        rc = mason_buf_adds(out, "/v1/auth/");
    if (!rc)
        rc = mason_sigv4_uri_encode(mount_path, strlen(mount_path), 1, out);
    if (!rc)
        rc = mason_buf_adds(out, "/login");
    return rc;
}

int mason_vault_login_body(const char *role, const char *jwt, struct mason_buf *out)
{
    json_t *body = json_pack("{s:s, s:s}", "role", role, "jwt", jwt);
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    int rc = text ? mason_buf_adds(out, text) : MASON_ENOMEM;

    if (text)
        explicit_bzero(text, strlen(text));
    free(text);
    json_decref(body);
    return rc;
}

int mason_vault_parse_auth(const char *reply, size_t len, struct mason_vault_lease *out)
{
    json_t *doc = json_loadb(reply, len, 0, NULL);
    const json_t *auth = json_object_get(doc, "auth");
    const char *token = json_string_value(json_object_get(auth, "client_token"));
    const json_t *lease = json_object_get(auth, "lease_duration");
    int rc = 0;

    memset(out, 0, sizeof(*out));
    if (!token || !*token || !json_is_integer(lease) || json_integer_value(lease) < 0 ||
        json_integer_value(lease) > 100L * 365 * 86400) {
        rc = MASON_EPARSE;
    } else {
        out->token = strdup(token);
        out->lease_duration = (unsigned)json_integer_value(lease);
        out->renewable = json_is_true(json_object_get(auth, "renewable"));
        rc = out->token ? 0 : MASON_ENOMEM;
    }
    /* NOTE: jansson frees its copy of the token without wiping it. */
    json_decref(doc);
    return rc;
}

int mason_vault_parse_kv(const char *reply, size_t len, struct mason_buf *value)
{
    json_t *doc = json_loadb(reply, len, 0, NULL);
    const json_t *data = json_object_get(doc, "data");
    const json_t *secret = json_object_get(data, "data");
    const json_t *meta = json_object_get(data, "metadata");
    char *text = NULL;
    int rc = MASON_EPARSE;

    if (json_is_null(secret) && (json_string_length(json_object_get(meta, "deletion_time")) ||
                                 json_is_true(json_object_get(meta, "destroyed"))))
        rc = MASON_ENOTFOUND;
    else if (json_is_object(secret))
        text = json_dumps(secret, JSON_COMPACT);
    if (text) {
        rc = mason_buf_adds(value, text);
        explicit_bzero(text, strlen(text));
        free(text);
    }
    /* NOTE: jansson frees its copies of the values without wiping them. */
    json_decref(doc);
    return rc;
}

void mason_vault_parse_errors(const char *reply, size_t len, struct mason_buf *out)
{
    json_t *doc = json_loadb(reply, len, 0, NULL);
    const json_t *errors = json_object_get(doc, "errors");
    const char *separator = "";
    size_t i;
    json_t *item;

    json_array_foreach(errors, i, item)
    {
        if (!json_is_string(item))
            continue;
        mason_buf_addf(out, "%s%s", separator, json_string_value(item));
        separator = "; ";
    }
    json_decref(doc);
}

int mason_vault_read_failure(const char *name, bool kv_mount_set, const char *role, long status,
                             const char *reply, size_t len, struct mason_buf *err)
{
    struct mason_buf ignored = MASON_BUF_INIT;
    int rc;

    if (status == 404) {
        /* Vault returns 404 with the version metadata when the current version is deleted. */
        rc = mason_vault_parse_kv(reply, len, &ignored);
        mason_buf_release(&ignored);
        if (rc == MASON_ENOTFOUND)
            mason_buf_addf(err, "the current version of Vault secret \"%s\" is deleted", name);
        else
            mason_buf_addf(err, "no secret at Vault KV v2 path \"%s\"%s", name,
                           kv_mount_set ? "" : " (the first segment is the KV mount)");
        return MASON_ENOTFOUND;
    }
    if (status == 403) {
        mason_buf_addf(
            err,
            "Vault denied reading \"%s\" to role \"%s\"; grant the role's policy read on the KV v2 data path",
            name, role);
        return MASON_EFORBIDDEN;
    }
    mason_buf_addf(err, "Vault read of \"%s\" failed with HTTP %ld: ", name, status);
    mason_vault_parse_errors(reply, len, err);
    if (status == 429)
        return MASON_ETHROTTLED;
    return status >= 500 ? MASON_EUNAVAILABLE : MASON_EHTTP;
}

enum mason_vault_token_action mason_vault_token_action(const struct mason_vault_lease *lease,
                                                       long age)
{
    long duration;

    if (!lease || !lease->token)
        return MASON_VAULT_LOGIN;
    duration = (long)lease->lease_duration;
    if (duration == 0)
        return MASON_VAULT_USE; /* a token without expiry, such as a root token */
    if (age >= duration)
        return MASON_VAULT_LOGIN;
    if (age < duration * 2 / 3)
        return MASON_VAULT_USE;
    return lease->renewable ? MASON_VAULT_RENEW : MASON_VAULT_LOGIN;
}
