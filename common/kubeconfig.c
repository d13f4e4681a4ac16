#include "kubeconfig.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "kubeconfig_internal.h"
#include "yaml.h"
#include "banned.h"

#define SA_DIR_DEFAULT "/var/run/secrets/kubernetes.io/serviceaccount"

void mason_kube_config_init(struct mason_kube_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
}

void mason_kube_config_release(struct mason_kube_config *cfg)
{
    free(cfg->server);
    free(cfg->token);
    free(cfg->token_file);
    free(cfg->ca_pem);
    free(cfg->ca_file);
    free(cfg->cert_pem);
    free(cfg->key_pem);
    free(cfg->namespace);
    mason_kube_config_init(cfg);
}

int mason_kube_config_read_file(const char *path, size_t max, char **out, size_t *len)
{
    struct mason_buf b;
    char chunk[8192];
    FILE *f = fopen(path, "rb");
    struct stat st;
    size_t n;
    int err = 0;

    *out = NULL;
    if (!f)
        return MASON_EIO;
    /* A FIFO or a device named in a kubeconfig could block the reader or never end. */
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return MASON_EIO;
    }
    mason_buf_init(&b, max);
    while (!err && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        err = mason_buf_add(&b, chunk, n);
    if (!err && ferror(f))
        err = MASON_EIO;
    fclose(f);
    if (err) {
        mason_buf_release(&b);
        return err;
    }
    if (len)
        *len = b.len;
    *out = mason_buf_detach(&b);
    return *out ? 0 : MASON_ENOMEM;
}

/* Removes trailing whitespace in place; token and namespace files end with a newline. */
static void trim_end(char *s)
{
    size_t n = strlen(s);

    while (n > 0 && strchr(" \t\r\n", s[n - 1]))
        s[--n] = '\0';
}

static int base64_value(unsigned char c)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const char *p = c ? strchr(alphabet, c) : NULL;

    return p ? (int)(p - alphabet) : -1;
}

/* Decodes standard base64, ignoring whitespace; padding is optional. */
static int base64_decode(const char *in, char **out)
{
    size_t n = strlen(in), len = 0;
    unsigned bits = 0, nbits = 0;
    char *dst = malloc(n / 4 * 3 + 4);

    *out = NULL;
    if (!dst)
        return MASON_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        int v = base64_value((unsigned char)in[i]);

        if (in[i] == '=')
            break;
        if (strchr(" \t\r\n", in[i]))
            continue;
        if (v < 0) {
            free(dst);
            return MASON_EPARSE;
        }
        bits = (bits << 6) | (unsigned)v;
        nbits += 6;
        if (nbits >= 8) {
            nbits -= 8;
            dst[len++] = (char)((bits >> nbits) & 0xff);
        }
    }
    dst[len] = '\0';
    *out = dst;
    return 0;
}

char *kubeconfig_join_path(const char *base_dir, const char *path)
{
    struct mason_buf b = MASON_BUF_INIT;

    if (path[0] == '/' || !base_dir || !*base_dir)
        return strdup(path);
    if (mason_buf_addf(&b, "%s/%s", base_dir, path)) {
        mason_buf_release(&b);
        return NULL;
    }
    return mason_buf_detach(&b);
}

/* Returns the element of a kubeconfig list ("clusters") whose name is name, borrowed. */
json_t *kubeconfig_find_named(json_t *root, const char *list, const char *name)
{
    json_t *entry;
    size_t i;

    json_array_foreach(json_object_get(root, list), i, entry)
    {
        const char *n = json_string_value(json_object_get(entry, "name"));

        if (n && strcmp(n, name) == 0)
            return entry;
    }
    return NULL;
}

const char *kubeconfig_str_field(json_t *obj, const char *key)
{
    const char *s = json_string_value(json_object_get(obj, key));

    return s && *s ? s : NULL;
}

static int read_referenced(const char *base_dir, const char *path, char **text, char **resolved,
                           struct mason_buf *err)
{
    char *full = kubeconfig_join_path(base_dir, path);
    int rc;

    if (!full)
        return MASON_ENOMEM;
    rc = mason_kube_config_read_file(full, MASON_KUBE_CONFIG_MAX_FILE, text, NULL);
    if (rc && err)
        mason_buf_addf(err, "cannot read %s: %s", full, mason_strerror(rc));
    if (!rc && resolved)
        *resolved = full;
    else
        free(full);
    return rc;
}

/* Fills *pem from field "NAME-data" (base64) or else from the file named by field NAME. */
static int load_pem(json_t *obj, const char *name, const char *base_dir, char **pem, char **file,
                    struct mason_buf *err)
{
    struct mason_buf key = MASON_BUF_INIT;
    const char *data, *path;
    int rc = 0;

    mason_buf_addf(&key, "%s-data", name);
    data = kubeconfig_str_field(obj, mason_buf_str(&key));
    path = kubeconfig_str_field(obj, name);
    if (data) {
        rc = base64_decode(data, pem);
        if (rc == MASON_EPARSE && err)
            mason_buf_addf(err, "kubeconfig field %s is not valid base64", mason_buf_str(&key));
    } else if (path) {
        rc = read_referenced(base_dir, path, pem, file, err);
    }
    mason_buf_release(&key);
    return rc;
}

static int config_fail(struct mason_buf *err, const char *what, const char *name)
{
    if (err)
        mason_buf_addf(err, "kubeconfig %s \"%s\" not found", what, name);
    return MASON_ECONFIG;
}

static int fill_cluster(struct mason_kube_config *cfg, json_t *cluster, const char *base_dir,
                        struct mason_buf *err)
{
    const char *server = kubeconfig_str_field(cluster, "server");
    size_t n;

    if (!server) {
        if (err)
            mason_buf_adds(err, "kubeconfig cluster has no server");
        return MASON_ECONFIG;
    }
    cfg->server = strdup(server);
    if (!cfg->server)
        return MASON_ENOMEM;
    n = strlen(cfg->server);
    while (n > 0 && cfg->server[n - 1] == '/')
        cfg->server[--n] = '\0';
    cfg->insecure = json_is_true(json_object_get(cluster, "insecure-skip-tls-verify"));
    return load_pem(cluster, "certificate-authority", base_dir, &cfg->ca_pem, &cfg->ca_file, err);
}

static int fill_user(struct mason_kube_config *cfg, json_t *user, const char *base_dir,
                     struct mason_buf *err)
{
    const char *token = kubeconfig_str_field(user, "token");
    const char *token_file = kubeconfig_str_field(user, "tokenFile");
    int rc;

    if (token && !(cfg->token = strdup(token)))
        return MASON_ENOMEM;
    if (!token && token_file) {
        rc = read_referenced(base_dir, token_file, &cfg->token, &cfg->token_file, err);
        if (rc)
            return rc;
        trim_end(cfg->token);
    }
    rc = load_pem(user, "client-certificate", base_dir, &cfg->cert_pem, NULL, err);
    if (!rc)
        rc = load_pem(user, "client-key", base_dir, &cfg->key_pem, NULL, err);
    if (!rc && !cfg->cert_pem != !cfg->key_pem) {
        if (err)
            mason_buf_adds(err, cfg->cert_pem
                                    ? "kubeconfig user has client-certificate but no client-key"
                                    : "kubeconfig user has client-key but no client-certificate");
        rc = MASON_ECONFIG;
    }
    if (!rc && !cfg->token && !cfg->cert_pem &&
        (json_object_get(user, "exec") || json_object_get(user, "auth-provider"))) {
        if (err)
            mason_buf_adds(
                err,
                "kubeconfig user needs an exec or auth-provider plugin, which is not supported: use a token or a client certificate");
        rc = MASON_ECONFIG;
    }
    return rc;
}

static int fill_from_context(struct mason_kube_config *cfg, json_t *root, const char *base_dir,
                             struct mason_buf *err)
{
    const char *current = kubeconfig_str_field(root, "current-context");
    json_t *context, *cluster, *user;
    const char *name, *ns;
    int rc;

    if (!current) {
        if (err)
            mason_buf_adds(err, "kubeconfig has no current-context");
        return MASON_ECONFIG;
    }
    context = json_object_get(kubeconfig_find_named(root, "contexts", current), "context");
    if (!context)
        return config_fail(err, "context", current);
    name = kubeconfig_str_field(context, "cluster");
    cluster = json_object_get(kubeconfig_find_named(root, "clusters", name ? name : ""), "cluster");
    if (!cluster)
        return config_fail(err, "cluster", name ? name : "");
    name = kubeconfig_str_field(context, "user");
    user = json_object_get(kubeconfig_find_named(root, "users", name ? name : ""), "user");
    if (name && !user)
        return config_fail(err, "user", name);
    ns = kubeconfig_str_field(context, "namespace");
    cfg->namespace = strdup(ns ? ns : "default");
    if (!cfg->namespace)
        return MASON_ENOMEM;
    rc = fill_cluster(cfg, cluster, base_dir, err);
    if (!rc && user)
        rc = fill_user(cfg, user, base_dir, err);
    return rc;
}

/* Fills cfg from a parsed kubeconfig; on error cfg is left empty. */
int kubeconfig_fill(struct mason_kube_config *cfg, json_t *root, const char *base_dir,
                    struct mason_buf *err)
{
    int rc;

    mason_kube_config_release(cfg);
    if (!json_is_object(root)) {
        if (err)
            mason_buf_adds(err, "kubeconfig is not a YAML mapping");
        return MASON_EPARSE;
    }
    rc = fill_from_context(cfg, root, base_dir, err);
    if (rc)
        mason_kube_config_release(cfg);
    return rc;
}

int mason_kube_config_parse(struct mason_kube_config *cfg, const char *yaml, size_t len,
                            const char *base_dir, struct mason_buf *err)
{
    json_t *root = NULL;
    int rc;

    mason_kube_config_release(cfg);
    rc = mason_yaml_to_json(yaml, len, &root, err);
    if (!rc)
        rc = kubeconfig_fill(cfg, root, base_dir, err);
    json_decref(root);
    return rc;
}

static int read_sa_file(const char *sa_dir, const char *name, char **out, struct mason_buf *err)
{
    int rc = read_referenced(sa_dir, name, out, NULL, err);

    if (!rc)
        trim_end(*out);
    return rc;
}

static int in_cluster_server(struct mason_kube_config *cfg, struct mason_buf *err)
{
    const char *host = getenv("KUBERNETES_SERVICE_HOST");
    const char *port = getenv("KUBERNETES_SERVICE_PORT");
    struct mason_buf url = MASON_BUF_INIT;
    bool ipv6;

    if (!host || !*host || !port || !*port) {
        if (err)
            mason_buf_adds(
                err,
                "not running in a cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set");
        return MASON_ECONFIG;
    }
    ipv6 = strchr(host, ':') != NULL;
    if (mason_buf_addf(&url, "https://%s%s%s:%s", ipv6 ? "[" : "", host, ipv6 ? "]" : "", port)) {
        mason_buf_release(&url);
        return MASON_ENOMEM;
    }
    cfg->server = mason_buf_detach(&url);
    return cfg->server ? 0 : MASON_ENOMEM;
}

int mason_kube_config_in_cluster(struct mason_kube_config *cfg, const char *sa_dir,
                                 struct mason_buf *err)
{
    int rc;

    mason_kube_config_release(cfg);
    if (!sa_dir)
        sa_dir = SA_DIR_DEFAULT;
    rc = in_cluster_server(cfg, err);
    if (!rc)
        rc = read_referenced(sa_dir, "token", &cfg->token, &cfg->token_file, err);
    if (rc)
        goto out;
    trim_end(cfg->token);
    /* ca.crt and namespace are optional: without them, system CAs and "default" apply. */
    if (read_sa_file(sa_dir, "ca.crt", &cfg->ca_pem, NULL) == 0)
        cfg->ca_file = kubeconfig_join_path(sa_dir, "ca.crt");
    if (read_sa_file(sa_dir, "namespace", &cfg->namespace, NULL) || !*cfg->namespace) {
        free(cfg->namespace);
        cfg->namespace = strdup("default");
    }
    if (!cfg->namespace)
        rc = MASON_ENOMEM;
out:
    if (rc)
        mason_kube_config_release(cfg);
    return rc;
}
