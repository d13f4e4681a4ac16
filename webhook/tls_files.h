/*
 * The serving certificate and key files: reading them, and a stamp of both
 * (device, inode, size, modification time) that changes when either file is
 * replaced, including the symlink swap of a Kubernetes Secret volume.
 */
#ifndef MASON_TLS_FILES_H
#define MASON_TLS_FILES_H

#include <stdbool.h>
#include <sys/stat.h>

#include "buf.h"

/* Cap on each PEM file. */
#define MASON_TLS_FILE_MAX (1024u * 1024u)

struct mason_tls_stamp {
    struct stat cert;
    struct stat key;
};

/* Stats both files (following symlinks). Returns 0 or MASON_EIO with err naming the file. */
int mason_tls_stamp_take(const char *cert_file, const char *key_file, struct mason_tls_stamp *stamp,
                         struct mason_buf *err);

/* Returns whether two stamps describe the same files. */
bool mason_tls_stamp_equal(const struct mason_tls_stamp *a, const struct mason_tls_stamp *b);

/*
 * Reads path into out (initialised here, capped at MASON_TLS_FILE_MAX).
 * Returns 0, or MASON_EIO or MASON_ETOOBIG with err naming the file.
 */
int mason_tls_read_file(const char *path, struct mason_buf *out, struct mason_buf *err);

#endif
