/*
 * Converts YAML text (kubeconfig files, manifests) into jansson values, so the
 * rest of the project handles one tree type. Scalars follow the YAML 1.2 core
 * schema: plain true/false, null/~/empty, integers and floats become JSON
 * values, and every quoted scalar or other plain scalar stays a string.
 */
#ifndef MASON_YAML_H
#define MASON_YAML_H

#include <jansson.h>
#include <stddef.h>

#include "buf.h"

/* Maximum nesting of mappings and sequences; deeper input is rejected. */
#define MASON_YAML_MAX_DEPTH 128

/*
 * Parses a stream that holds one YAML document into *out (a new reference).
 * An empty stream gives JSON null. Returns 0, MASON_EPARSE for malformed YAML,
 * a stream of more than one document, aliases, non-scalar mapping keys or
 * nesting past MASON_YAML_MAX_DEPTH, or MASON_ENOMEM; err (may be NULL) gets
 * the reason with its line and column. *out is NULL on error.
 * NOTE: anchors and aliases are rejected, because expanding them lets a small
 * input grow without bound.
 */
int mason_yaml_to_json(const char *text, size_t len, json_t **out, struct mason_buf *err);

/*
 * Parses every document of a multi-document stream into *out, a new
 * reference to a JSON array with one element per document (empty documents
 * give null). Errors as mason_yaml_to_json.
 */
int mason_yaml_to_json_all(const char *text, size_t len, json_t **out, struct mason_buf *err);

#endif
