/*
 * mason-operator: reconciles AgentTasks into hardened agent Jobs.
 *
 * usage: mason-operator [--config FILE] [--kubeconfig FILE] [--workers N] [--leader-elect]
 *                       [--leader-election-namespace NS]
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "error.h"
#include "kube.h"
#include "kubeconfig.h"
#include "leader.h"
#include "log.h"
#include "notify.h"
#include "operator.h"
#include "price_table.h"
#include "secrets.h"
#include "banned.h"

#define MASON_VERSION "0.1.0"

struct options {
    const char *config;
    const char *kubeconfig;
    int workers;
    int leader_elect;
    const char *leader_namespace;
    int check_config;
};

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
    stop_signal = sig;
}

static void usage(FILE *out)
{
    fputs(
        "usage: mason-operator [--config FILE] [--kubeconfig FILE] [--workers N] [--leader-elect]\n"
        "                      [--leader-election-namespace NS]\n"
        "       mason-operator --config FILE --check-config\n"
        "       mason-operator --version\n"
        "  --config FILE      operator configuration (YAML); defaults apply when absent\n"
        "  --kubeconfig FILE  API server credentials; default $KUBECONFIG, ~/.kube/config,\n"
        "                     then the pod's service account\n"
        "  --workers N        tasks reconciled in parallel (default 4, 1 to 64)\n"
        "  --leader-elect     act only while holding the Lease mason-operator, so that\n"
        "                     one of several replicas acts\n"
        "  --leader-election-namespace NS\n"
        "                     namespace of that Lease (default $POD_NAMESPACE, else\n"
        "                     mason-system)\n"
        "  --version          print the version and exit\n",
        out);
}

static int parse_options(int argc, char **argv, struct options *o)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"kubeconfig", required_argument, NULL, 'k'},
        {"workers", required_argument, NULL, 'w'},
        {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},
        {"leader-elect", no_argument, NULL, 'L'},
        {"check-config", no_argument, NULL, 'C'},
        {"leader-election-namespace", required_argument, NULL, 'N'},
        {NULL, 0, NULL, 0},
    };
    int c;
    char *end;

    o->workers = 4;
    o->leader_namespace = getenv("POD_NAMESPACE");
    if (!o->leader_namespace || !*o->leader_namespace)
        o->leader_namespace = "mason-system";
    while ((c = getopt_long(argc, argv, "c:k:w:hV", longopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            o->config = optarg;
            break;
        case 'k':
            o->kubeconfig = optarg;
            break;
        case 'w':
            o->workers = (int)strtol(optarg, &end, 10);
            if (*end || o->workers < 1 || o->workers > 64) {
                fprintf(stderr,
                        "mason-operator: invalid --workers \"%s\": use a number from 1 to 64\n",
                        optarg);
                return 2;
            }
            break;
        case 'L':
            o->leader_elect = 1;
            break;
        case 'C':
            o->check_config = 1;
            break;
        case 'N':
            o->leader_namespace = optarg;
            break;
        case 'V':
            puts("mason-operator " MASON_VERSION);
            exit(0);
        case 'h':
            usage(stdout);
            exit(0);
        default:
            usage(stderr);
            return 2;
        }
    }
    return 0;
}

static void install_signals(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

/* Loads the configuration, the API client and the secret resolver into op. */
static int setup(const struct options *o, struct mason_operator *op, struct mason_buf *err)
{
    struct mason_kube_config kc;
    struct mason_secrets_config sc = {0};
    enum mason_log_level level;
    int rc;

    rc = mason_config_load(o->config, &op->cfg, err);
    if (rc != 0)
        return rc;
    if (mason_log_parse_level(op->cfg->log_level, &level) == 0)
        mason_log_set_level(level);
    mason_kube_config_init(&kc);
    rc = mason_kube_config_load(&kc, o->kubeconfig, err);
    if (rc == 0) {
        op->kube = mason_kube_create(&kc);
        rc = op->kube ? 0 : MASON_ENOMEM;
    }
    mason_kube_config_release(&kc);
    if (rc != 0)
        return rc;
    rc = mason_price_table_load(op->cfg->pricing, &op->pricing, err);
    if (rc == 0)
        rc = mason_scoring_load(op->cfg->scoring, &op->scoring, err);
    if (rc != 0)
        return rc;
    rc = mason_secrets_config_parse(op->cfg->secret_resolver, &sc, err);
    if (rc != 0)
        return rc;
    op->secrets = mason_secrets_create(&sc, err);
    op->metrics.secrets = op->secrets;
    return op->secrets ? 0 : MASON_ECONFIG;
}

static void teardown(struct mason_operator *op)
{
    mason_http_stop(op->http);
    mason_controller_stop(op);
    mason_notify_stop(op);
    mason_secrets_free(op->secrets);
    mason_price_table_release(&op->pricing);
    mason_kube_free(op->kube);
    mason_config_free(op->cfg);
}

/*
 * Checks every section of the configuration the way a start would, without
 * connecting to anything. Returns the exit status.
 */
static int check_config(const char *path)
{
    struct mason_config *cfg = NULL;
    struct mason_pricing pricing = {0};
    struct mason_scoring scoring;
    struct mason_secrets_config secrets = {0};
    struct mason_approvals_config approvals = {0};
    struct mason_buf err = MASON_BUF_INIT;
    int rc;

    rc = mason_config_load(path, &cfg, &err);
    if (rc == 0)
        rc = mason_price_table_load(cfg->pricing, &pricing, &err);
    if (rc == 0)
        rc = mason_scoring_load(cfg->scoring, &scoring, &err);
    if (rc == 0)
        rc = mason_secrets_config_parse(cfg->secret_resolver, &secrets, &err);
    if (rc == 0)
        rc = mason_approvals_config_parse(cfg->approvals, &approvals, &err);
    if (rc == 0)
        printf("configuration %s is valid\n", path ? path : "(defaults)");
    else
        fprintf(stderr, "mason-operator: %s: %s\n", path ? path : "(defaults)",
                mason_buf_str(&err));
    mason_approvals_config_release(&approvals);
    mason_secrets_config_release(&secrets);
    mason_price_table_release(&pricing);
    mason_config_free(cfg);
    mason_buf_release(&err);
    return rc == 0 ? 0 : 1;
}

/* Waits for the Lease; returns 0 when held, MASON_ETIMEOUT when a signal came first. */
static int elect(const struct options *o, struct mason_operator *op, struct mason_leader **out)
{
    char host[128] = "mason-operator", identity[160];

    gethostname(host, sizeof(host) - 1);
    snprintf(identity, sizeof(identity), "%s_%ld", host, (long)getpid());
    *out = mason_leader_create(op->kube, o->leader_namespace, "mason-operator", identity);
    if (!*out)
        return MASON_ENOMEM;
    return mason_leader_acquire(*out, &stop_signal);
}

/*
 * Serves until a signal, renewing the Lease when there is one. Returns 0, or
 * 1 when leadership was lost: the process then exits so that it never acts
 * beside a new leader.
 */
static int run(struct mason_leader *leader)
{
    time_t renewed = time(NULL);
    int rc;

    while (!stop_signal) {
        sleep(MASON_LEADER_RENEW_SECONDS);
        if (!leader || stop_signal)
            continue;
        rc = mason_leader_renew(leader);
        if (rc == 0) {
            renewed = time(NULL);
            continue;
        }
        if (rc == MASON_ECONFLICT) {
            mason_error(
                NULL,
                "leader election: another replica holds the Lease; exiting so that only it acts");
            return 1;
        }
        if (time(NULL) - renewed > MASON_LEADER_RENEW_DEADLINE_SECONDS) {
            mason_error(
                NULL,
                "leader election: Lease not renewed for %d s; exiting so that only the new leader acts",
                MASON_LEADER_RENEW_DEADLINE_SECONDS);
            return 1;
        }
    }
    mason_info(NULL, "stopping on signal %d", (int)stop_signal);
    return 0;
}

/* Logs the address served, with the port the system chose when listen asked for port 0. */
static void log_serving(const char *listen, unsigned port)
{
    const char *colon = strrchr(listen, ':');
    int host_len = colon ? (int)(colon - listen) : 0;

    MASON_LOG(MASON_LOG_INFO, NULL, json_pack("{s:i}", "port", (int)port),
              "serving /healthz, /readyz and /metrics on %.*s:%u", host_len, listen, port);
}

/* Logs the start with the namespaces watched, so a task in another one is explained. */
static void log_started(const struct mason_operator *op)
{
    struct mason_buf watched = MASON_BUF_INIT;

    for (unsigned i = 0; i < op->cfg->namespaces_count; i++)
        mason_buf_addf(&watched, "%s%s", i ? ", " : "namespaces ", op->cfg->namespaces[i]);
    mason_info(NULL, "started: version %s, %d workers, watching %s", MASON_VERSION, op->workers,
               watched.len ? mason_buf_str(&watched) : "all namespaces");
    mason_buf_release(&watched);
}

int main(int argc, char **argv)
{
    struct options o = {0};
    struct mason_operator op = {0};
    struct mason_leader *leader = NULL;
    struct mason_buf err = MASON_BUF_INIT;
    int rc;

    mason_log_set_component("operator");
    rc = parse_options(argc, argv, &o);
    if (rc != 0)
        return rc;
    if (o.check_config)
        return check_config(o.config);
    install_signals();
    op.workers = o.workers;
    rc = setup(&o, &op, &err);
    if (rc == 0)
        rc = mason_notify_start(&op, o.leader_namespace, &err);
    if (rc == 0) {
        op.http = mason_http_start(op.cfg->listen, &op.metrics, &err);
        rc = op.http ? 0 : MASON_ECONFIG;
    }
    if (rc == 0) {
        mason_http_set_post(op.http, MASON_SLACK_INTERACTIONS_PATH, mason_notify_http_post, &op);
        log_serving(op.cfg->listen, mason_http_port(op.http));
    }
    /* A standby replica serves /healthz while it waits, so its liveness probe passes. */
    if (rc == 0 && o.leader_elect) {
        rc = elect(&o, &op, &leader);
        if (rc == MASON_ETIMEOUT) {
            teardown(&op);
            return 0;
        }
    }
    if (rc == 0)
        rc = mason_controller_start(&op, &err);
    if (rc != 0) {
        mason_error(NULL, "start failed: %s: %s", mason_strerror(rc), mason_buf_str(&err));
        teardown(&op);
        mason_buf_release(&err);
        return 1;
    }
    log_started(&op);
    rc = run(leader);
    teardown(&op);
    mason_leader_free(leader, rc == 0);
    mason_info(NULL, "stopped");
    mason_buf_release(&err);
    return rc;
}
