/*
 * Pod mutation as a JSON Patch (RFC 6902). The patch sets only fields that
 * are unset, to the values the policy requires, and merges volumes that
 * reference one PersistentVolumeClaim into the first of them, re-pointing
 * the mounts. It uses "add" for absent fields and never changes a value the
 * user set, so applying it and mutating again gives an empty patch.
 */
#ifndef MASON_PATCH_H
#define MASON_PATCH_H

#include <jansson.h>

#include "buf.h"

enum mason_patch_scope {
    MASON_PATCH_POD,            /* a pod being created: the whole spec */
    MASON_PATCH_EPHEMERAL_ONLY, /* an update of pods/ephemeralcontainers: those containers only */
};

/*
 * Builds the patch that hardens pod (borrowed). Returns a new reference to
 * a JSON array of operations, empty when nothing needs to change, or NULL
 * when memory runs out.
 */
json_t *mason_patch_pod(const json_t *pod, enum mason_patch_scope scope);

/* Appends key to out escaped as a JSON Pointer token ("~" as "~0", "/" as "~1"). */
int mason_patch_escape_token(const char *key, struct mason_buf *out);

/*
 * Appends an operation {op, path, value} to patch; value (may be NULL for
 * "remove") is stolen. Returns 0 or MASON_ENOMEM.
 */
int mason_patch_append(json_t *patch, const char *op, const char *path, json_t *value);

/*
 * Applies patch to doc (changed in place): the add, remove and replace
 * operations of RFC 6902 with JSON Pointer paths, which is what
 * mason_patch_pod emits. The fuzz target and the tests use it to check that
 * a patch applies and that mutating the result again gives an empty patch.
 * Returns 0, or MASON_EINVAL with err naming the operation that did not apply;
 * doc may then hold the operations before it.
 */
int mason_patch_apply(json_t *doc, const json_t *patch, struct mason_buf *err);

#endif
