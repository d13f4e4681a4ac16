/* Certificate and key files (see tls_files.h). */
#include "tls_files.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "error.h"
#include "banned.h"

int mason_tls_stamp_take(const char *cert_file, const char *key_file, struct mason_tls_stamp *stamp,
                         struct mason_buf *err)
{
    memset(stamp, 0, sizeof(*stamp));
    if (stat(cert_file, &stamp->cert) != 0) {
        mason_buf_addf(err, "cannot stat %s: %s", cert_file, strerror(errno));
        return MASON_EIO;
    }
    if (stat(key_file, &stamp->key) != 0) {
        mason_buf_addf(err, "cannot stat %s: %s", key_file, strerror(errno));
        return MASON_EIO;
    }
    return 0;
}

static bool same_file(const struct stat *a, const struct stat *b)
{
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
           a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

bool mason_tls_stamp_equal(const struct mason_tls_stamp *a, const struct mason_tls_stamp *b)
{
    return same_file(&a->cert, &b->cert) && same_file(&a->key, &b->key);
}

int mason_tls_read_file(const char *path, struct mason_buf *out, struct mason_buf *err)
{
    FILE *f = fopen(path, "rb");
    char chunk[8192];
    size_t n;
    int rc = 0;

    mason_buf_init(out, MASON_TLS_FILE_MAX);
    if (!f) {
        mason_buf_addf(err, "cannot open %s: %s", path, strerror(errno));
        return MASON_EIO;
    }
    while (!rc && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        rc = mason_buf_add(out, chunk, n);
    if (!rc && ferror(f))
        rc = MASON_EIO;
    fclose(f);
    if (rc)
        mason_buf_addf(err, "cannot read %s: %s", path, mason_strerror(rc));
    return rc;
}
