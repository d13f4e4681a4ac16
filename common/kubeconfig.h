/*
 * Loads the address and credentials of a Kubernetes API server: from a
 * kubeconfig file (its current context), or from the service-account files
 * mounted into a pod. The result feeds mason_kube_create().
 */
#ifndef MASON_KUBECONFIG_H
#define MASON_KUBECONFIG_H

#include <stddef.h>

#include "buf.h"

/* Every string is malloc'd and owned by the struct; any may be NULL unless noted. */
struct mason_kube_config {
    char *server;     /* base URL without a trailing slash, "https://127.0.0.1:6443"; never NULL
                         after a successful load */
    char *token;      /* bearer token */
    char *token_file; /* file the token came from; the client re-reads it every minute */
    char *ca_pem;     /* CA bundle, PEM text */
    char *ca_file;    /* path the CA bundle was read from */
    char *cert_pem;   /* client certificate, PEM text */
    char *key_pem;    /* client private key, PEM text */
    char *namespace;  /* namespace of the context or the pod; "default" when unset */
    int insecure;     /* skip TLS verification of the server (insecure-skip-tls-verify) */
};

/* Size limit of a kubeconfig file and of each file it names. */
#define MASON_KUBE_CONFIG_MAX_FILE (4u * 1024u * 1024u)

/* Initialises an empty configuration. */
void mason_kube_config_init(struct mason_kube_config *cfg);

/* Frees every field; the struct is empty (as after _init) afterwards. */
void mason_kube_config_release(struct mason_kube_config *cfg);

/*
 * Loads the configuration from path, or when path is NULL from $KUBECONFIG,
 * else ~/.kube/config if it exists, else the in-cluster service account.
 * $KUBECONFIG is a colon-separated list of files merged as kubectl merges
 * them: missing files are skipped, and the first file that sets
 * current-context or names a cluster, context or user wins. Relative paths
 * in each file are resolved against that file's directory. cfg must be
 * initialised; it is released and refilled. Returns 0 or the error of the
 * step that failed (MASON_EIO for an unreadable file or when no file of
 * $KUBECONFIG exists, MASON_EPARSE, MASON_ECONFIG), with the file in err.
 */
int mason_kube_config_load(struct mason_kube_config *cfg, const char *path, struct mason_buf *err);

/*
 * Parses kubeconfig YAML and fills cfg from its current-context: cluster
 * server, certificate-authority(-data), insecure-skip-tls-verify; user token,
 * tokenFile, client-certificate(-data), client-key(-data); context namespace.
 * Relative file paths are resolved against base_dir (NULL: the working
 * directory) and read at once. Returns 0, MASON_EPARSE for invalid YAML or
 * base64, MASON_ECONFIG for a missing current-context, context, cluster,
 * user or server (err names it), MASON_EIO for an unreadable referenced file.
 */
int mason_kube_config_parse(struct mason_kube_config *cfg, const char *yaml, size_t len,
                            const char *base_dir, struct mason_buf *err);

/*
 * Fills cfg for a pod: server from KUBERNETES_SERVICE_HOST and
 * KUBERNETES_SERVICE_PORT, token, ca.crt and namespace from sa_dir (NULL:
 * /var/run/secrets/kubernetes.io/serviceaccount). Returns 0, MASON_ECONFIG
 * when the variables are unset, or MASON_EIO when the token is unreadable.
 */
int mason_kube_config_in_cluster(struct mason_kube_config *cfg, const char *sa_dir,
                                 struct mason_buf *err);

/*
 * Reads a whole regular file of at most max bytes into *out (malloc'd,
 * NUL-terminated) and its length into *len (may be NULL). Returns 0,
 * MASON_EIO (also for a FIFO, device or directory) or MASON_ETOOBIG.
 */
int mason_kube_config_read_file(const char *path, size_t max, char **out, size_t *len);

#endif
