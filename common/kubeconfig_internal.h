/*
 * Shared between kubeconfig.c (parsing, in-cluster configuration) and
 * kubeconfig_load.c (files and $KUBECONFIG); not part of the public API.
 */
#ifndef MASON_KUBECONFIG_INTERNAL_H
#define MASON_KUBECONFIG_INTERNAL_H

#include <jansson.h>

#include "buf.h"
#include "kubeconfig.h"

/* Returns path resolved against base_dir (NULL or "": unchanged), malloc'd, or NULL when
 * memory runs out. */
char *kubeconfig_join_path(const char *base_dir, const char *path);

/* Returns the element of a kubeconfig list ("clusters") whose name is name, borrowed. */
json_t *kubeconfig_find_named(json_t *root, const char *list, const char *name);

/* Returns the string value of key in obj, or NULL when it is missing or empty. */
const char *kubeconfig_str_field(json_t *obj, const char *key);

/* Fills cfg from a parsed kubeconfig, resolving relative file paths against base_dir.
 * Errors as mason_kube_config_parse; on error cfg is left empty. */
int kubeconfig_fill(struct mason_kube_config *cfg, json_t *root, const char *base_dir,
                    struct mason_buf *err);

#endif
