/*
 * mason-webhook: the admission webhook server. Reads its YAML
 * configuration, serves HTTPS until SIGTERM or SIGINT, then drains the
 * requests in flight and exits.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admission.h"
#include "error.h"
#include "log.h"
#include "metrics.h"
#include "secrets.h"
#include "server.h"
#include "webhook_config.h"
#include "yaml.h"
#include "banned.h"

#define MAX_FILE_BYTES (1024u * 1024u)
#define DRAIN_SECONDS 10u
/* Certificate files are checked this often, so a replaced certificate is in use within 15 s. */
#define RELOAD_SECONDS 5u

static const char usage[] =
    "usage: mason-webhook [--config FILE] [--listen HOST:PORT] [--tls-cert FILE]\n"
    "                     [--tls-key FILE] [--namespace NAME] [--log-level LEVEL]\n"
    "\n"
    "  --config FILE       YAML configuration (see docs/webhook.md)\n"
    "  --listen HOST:PORT  address to serve HTTPS on; port 0 picks a free port\n"
    "                      (default " MASON_WEBHOOK_DEFAULT_LISTEN ")\n"
    "  --tls-cert FILE     PEM serving certificate (overrides tls.cert_file)\n"
    "  --tls-key FILE      PEM private key (overrides tls.key_file)\n"
    "  --namespace NAME    the webhook's own namespace, never governed\n"
    "                      (default: the POD_NAMESPACE environment variable)\n"
    "  --log-level LEVEL   debug, info, warn or error (default info)\n";

struct options {
    const char *config;
    const char *listen;
    const char *cert;
    const char *key;
    const char *namespace;
    const char *log_level;
};

static int read_file(const char *path, struct mason_buf *out, struct mason_buf *err)
{
    FILE *f = fopen(path, "rb");
    char chunk[8192];
    size_t n;
    int rc = 0;

    if (!f) {
        mason_buf_addf(err, "cannot open %s: %s", path, strerror(errno));
        return MASON_EIO;
    }
    mason_buf_init(out, MAX_FILE_BYTES);
    while (!rc && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        rc = mason_buf_add(out, chunk, n);
    if (!rc && ferror(f))
        rc = MASON_EIO;
    fclose(f);
    if (rc)
        mason_buf_addf(err, "cannot read %s: %s", path, mason_strerror(rc));
    return rc;
}

static int parse_args(int argc, char **argv, struct options *o)
{
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        const char **slot = NULL;

        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
            fputs(usage, stdout);
            exit(0);
        }
        if (!strcmp(arg, "--config"))
            slot = &o->config;
        else if (!strcmp(arg, "--listen"))
            slot = &o->listen;
        else if (!strcmp(arg, "--tls-cert"))
            slot = &o->cert;
        else if (!strcmp(arg, "--tls-key"))
            slot = &o->key;
        else if (!strcmp(arg, "--namespace"))
            slot = &o->namespace;
        else if (!strcmp(arg, "--log-level"))
            slot = &o->log_level;
        if (!slot || i + 1 >= argc) {
            fprintf(stderr, "mason-webhook: invalid argument %s\n%s", arg, usage);
            return MASON_EINVAL;
        }
        *slot = argv[++i];
    }
    return 0;
}

static int replace(char **field, const char *value)
{
    if (!value)
        return 0;
    free(*field);
    *field = strdup(value);
    return *field ? 0 : MASON_ENOMEM;
}

/* Loads the configuration file and applies the command-line overrides. */
static int load_config(const struct options *o, struct mason_webhook_config *cfg,
                       struct mason_secrets_config *secrets, struct mason_buf *err)
{
    struct mason_buf text = MASON_BUF_INIT;
    json_t *root = NULL;
    int rc = 0;

    if (o->config)
        rc = read_file(o->config, &text, err);
    if (!rc && o->config)
        rc = mason_yaml_to_json(mason_buf_str(&text), text.len, &root, err);
    mason_buf_release(&text);
    if (!rc)
        rc = mason_webhook_config_parse(root, cfg, err);
    if (!rc)
        rc = mason_secrets_config_parse(json_object_get(root, "secret_resolver"), secrets, err);
    json_decref(root);
    if (rc)
        return rc;
    rc = replace(&cfg->listen, o->listen);
    if (!rc)
        rc = replace(&cfg->cert_file, o->cert);
    if (!rc)
        rc = replace(&cfg->key_file, o->key);
    if (!rc)
        rc = replace(&cfg->namespace, o->namespace ? o->namespace : getenv("POD_NAMESPACE"));
    if (!rc)
        rc = replace(&cfg->log_level, o->log_level);
    if (!rc && (!cfg->cert_file || !cfg->key_file)) {
        mason_buf_adds(
            err,
            "a serving certificate and key are required: set tls.cert_file and tls.key_file or pass --tls-cert and --tls-key");
        rc = MASON_ECONFIG;
    }
    return rc;
}

static int set_log_level(const struct mason_webhook_config *cfg, struct mason_buf *err)
{
    enum mason_log_level level;

    if (!cfg->log_level)
        return 0;
    if (mason_log_parse_level(cfg->log_level, &level)) {
        mason_buf_addf(err, "log level \"%s\" is invalid; use debug, info, warn or error",
                       cfg->log_level);
        return MASON_ECONFIG;
    }
    mason_log_set_level(level);
    return 0;
}

/* Serves until SIGTERM or SIGINT arrives; the signals are blocked in every thread. */
static int serve(const struct mason_webhook_config *cfg, const struct mason_admission *admission,
                 struct mason_buf *err)
{
    struct mason_server_options opts = {
        .listen = cfg->listen,
        .cert_file = cfg->cert_file,
        .key_file = cfg->key_file,
        .reload_seconds = RELOAD_SECONDS,
        .max_body_bytes = cfg->max_body_bytes,
        .timeout_seconds = cfg->request_timeout_seconds,
        .threads = cfg->threads,
    };
    struct mason_metrics *metrics = mason_metrics_create();
    struct mason_server *server = NULL;
    sigset_t signals;
    int sig = 0;

    if (!metrics)
        return MASON_ENOMEM;
    server = mason_server_start(&opts, admission, metrics, err);
    if (!server) {
        mason_metrics_free(metrics);
        return MASON_EIO;
    }
    MASON_LOG(MASON_LOG_INFO, NULL,
              json_pack("{s:s, s:i, s:s}", "listen", cfg->listen, "port",
                        (int)mason_server_port(server), "mode", mason_mode_name(cfg->default_mode)),
              "serving admission requests");
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    sigwait(&signals, &sig);
    mason_info(NULL, "received signal %d; draining requests in flight", sig);
    mason_server_stop(server, DRAIN_SECONDS);
    mason_info(NULL, "stopped");
    mason_metrics_free(metrics);
    return 0;
}

int main(int argc, char **argv)
{
    struct options o = {0};
    struct mason_webhook_config cfg = {0};
    struct mason_secrets_config secrets = {0};
    struct mason_admission admission = {.cfg = &cfg, .secrets = &secrets};
    struct mason_buf err = MASON_BUF_INIT;
    sigset_t signals;
    int rc;

    mason_log_set_component("webhook");
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &signals, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (parse_args(argc, argv, &o))
        return 2;
    rc = load_config(&o, &cfg, &secrets, &err);
    if (!rc)
        rc = set_log_level(&cfg, &err);
    if (!rc)
        rc = serve(&cfg, &admission, &err);
    if (rc)
        mason_error(NULL, "%s", err.len ? mason_buf_str(&err) : mason_strerror(rc));
    mason_secrets_config_release(&secrets);
    mason_webhook_config_release(&cfg);
    mason_buf_release(&err);
    return rc ? 1 : 0;
}
