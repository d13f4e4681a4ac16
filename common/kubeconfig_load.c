/* Loading of kubeconfig files: one file, or the merged list in $KUBECONFIG. */
#include "kubeconfig.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "kubeconfig_internal.h"
#include "yaml.h"
#include "banned.h"

/* Reads and parses the kubeconfig at path. *dir gets the directory that relative paths in
 * it are resolved against (malloc'd, NULL for the working directory). */
static int read_kubeconfig(const char *path, json_t **root, char **dir, struct mason_buf *err)
{
    char *text = NULL, *slash;
    size_t len;
    int rc = mason_kube_config_read_file(path, MASON_KUBE_CONFIG_MAX_FILE, &text, &len);

    *root = NULL;
    *dir = NULL;
    if (rc) {
        if (err)
            mason_buf_addf(err, "cannot read kubeconfig %s: %s", path, mason_strerror(rc));
        return rc;
    }
    rc = mason_yaml_to_json(text, len, root, err);
    free(text);
    if (rc) {
        if (err)
            mason_buf_addf(err, " (in %s)", path);
        return rc;
    }
    slash = strrchr(path, '/');
    if (slash && !(*dir = strndup(path, slash == path ? 1 : (size_t)(slash - path)))) {
        json_decref(*root);
        *root = NULL;
        return MASON_ENOMEM;
    }
    return 0;
}

static int load_file(struct mason_kube_config *cfg, const char *path, struct mason_buf *err)
{
    json_t *root;
    char *dir;
    int rc = read_kubeconfig(path, &root, &dir, err);

    if (!rc) {
        rc = kubeconfig_fill(cfg, root, dir, err);
        if (rc && err)
            mason_buf_addf(err, " (in %s)", path);
    }
    json_decref(root);
    free(dir);
    return rc;
}

/* Makes the relative paths in one entry of a kubeconfig list absolute against dir, so an
 * entry merged from another file still finds its files. */
static int resolve_entry_paths(json_t *entry, const char *dir)
{
    static const char *const fields[] = {"certificate-authority", "client-certificate",
                                         "client-key", "tokenFile"};
    json_t *inner = json_object_get(entry, "cluster");
    const char *path;
    char *full;

    if (!inner)
        inner = json_object_get(entry, "user");
    for (size_t i = 0; dir && json_is_object(inner) && i < sizeof(fields) / sizeof(fields[0]);
         i++) {
        path = kubeconfig_str_field(inner, fields[i]);
        if (!path || path[0] == '/')
            continue;
        full = kubeconfig_join_path(dir, path);
        if (!full || json_object_set_new(inner, fields[i], json_string(full))) {
            free(full);
            return MASON_ENOMEM;
        }
        free(full);
    }
    return 0;
}

/* Merges root into merged as kubectl merges $KUBECONFIG: the first file that sets
 * current-context, or names a cluster, context or user, wins. */
static int merge_kubeconfig(json_t *merged, json_t *root, const char *dir)
{
    static const char *const lists[] = {"clusters", "contexts", "users"};
    json_t *current = json_object_get(root, "current-context");
    json_t *entry;
    size_t i;

    if (json_is_string(current) && !kubeconfig_str_field(merged, "current-context") &&
        json_object_set(merged, "current-context", current))
        return MASON_ENOMEM;
    for (size_t l = 0; l < sizeof(lists) / sizeof(lists[0]); l++) {
        json_t *into = json_object_get(merged, lists[l]);

        json_array_foreach(json_object_get(root, lists[l]), i, entry)
        {
            const char *name = kubeconfig_str_field(entry, "name");

            if (!name || kubeconfig_find_named(merged, lists[l], name))
                continue;
            if (resolve_entry_paths(entry, dir) || json_array_append(into, entry))
                return MASON_ENOMEM;
        }
    }
    return 0;
}

/* Reads the kubeconfig at path and merges it into merged. */
static int merge_file(json_t *merged, const char *path, struct mason_buf *err)
{
    json_t *root;
    char *dir;
    int rc = read_kubeconfig(path, &root, &dir, err);

    if (!rc && !json_is_object(root) && !json_is_null(root)) {
        if (err)
            mason_buf_addf(err, "kubeconfig %s is not a YAML mapping", path);
        rc = MASON_EPARSE;
    }
    if (!rc && json_is_object(root))
        rc = merge_kubeconfig(merged, root, dir);
    json_decref(root);
    free(dir);
    return rc;
}

/* Loads the colon-separated list of files in $KUBECONFIG. Missing files are skipped, as
 * kubectl does. */
static int load_file_list(struct mason_kube_config *cfg, const char *list, struct mason_buf *err)
{
    json_t *merged = json_pack("{s:[], s:[], s:[]}", "clusters", "contexts", "users");
    struct mason_buf path = MASON_BUF_INIT;
    const char *p = list;
    int rc = merged ? 0 : MASON_ENOMEM, files = 0;

    while (!rc && *p) {
        size_t n = strcspn(p, ":");

        mason_buf_reset(&path);
        rc = mason_buf_add(&path, p, n);
        p += p[n] == ':' ? n + 1 : n;
        if (rc || n == 0 || access(mason_buf_str(&path), F_OK) != 0)
            continue;
        rc = merge_file(merged, mason_buf_str(&path), err);
        files++;
    }
    if (!rc && files == 0) {
        if (err)
            mason_buf_addf(err, "no file in KUBECONFIG=%s exists", list);
        rc = MASON_EIO;
    }
    if (!rc) {
        rc = kubeconfig_fill(cfg, merged, NULL, err);
        if (rc && err)
            mason_buf_addf(err, " (in KUBECONFIG=%s)", list);
    }
    json_decref(merged);
    mason_buf_release(&path);
    return rc;
}

int mason_kube_config_load(struct mason_kube_config *cfg, const char *path, struct mason_buf *err)
{
    const char *env = getenv("KUBECONFIG"), *home = getenv("HOME");
    struct mason_buf file = MASON_BUF_INIT;
    int rc;

    if (path)
        return load_file(cfg, path, err);
    if (env && strspn(env, ":") != strlen(env))
        return load_file_list(cfg, env, err);
    if (home && *home) {
        mason_buf_addf(&file, "%s/.kube/config", home);
        if (access(mason_buf_str(&file), R_OK) != 0)
            mason_buf_reset(&file);
    }
    if (file.len)
        rc = load_file(cfg, mason_buf_str(&file), err);
    else
        rc = mason_kube_config_in_cluster(cfg, NULL, err);
    mason_buf_release(&file);
    return rc;
}
