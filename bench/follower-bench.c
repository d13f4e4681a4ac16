/*
 * Memory and CPU of one log follower (operator/follower.h) that follows many
 * pod logs at once, as mason-operator does for its running agents.
 *
 * A libmicrohttpd server on 127.0.0.1 plays the API server's pod-log
 * endpoint (GET .../pods/POD/log?follow=true&timestamps=true): each pod's log
 * is a Claude Code stream-json fixture repeated to --seconds * 1000 /
 * --interval-ms lines, every line prefixed with "<RFC3339Nano> " and sent
 * when it is due, one line per --interval-ms. A reconnection replays the log
 * from its start with the same timestamps, as a server that ignores
 * sinceTime would. The server runs in a child process (forked before any
 * thread starts) so the parent's RSS and CPU are the follower's own, or with
 * --in-process on its own threads in the follower's process.
 *
 * The parent samples VmRSS every second. The steady window runs from the
 * moment every stream has delivered an event until the first stream ends;
 * CPU and event rates are taken over it. At the end each stream's events are
 * checked against the same log parsed directly by a Claude Code adapter:
 * same count and same sequence (a hash of kind, turn, tool id, argument hash
 * and error flag), and an end as finished. Reconnections and the duplicate
 * lines they skip are counted.
 *
 * usage: follower-bench [--streams N] [--seconds S] [--interval-ms MS]
 *                       [--in-process] [--tls DIR] [--json FILE] FIXTURE
 * --tls DIR serves HTTPS with DIR/cert.pem and DIR/key.pem and makes the
 * client trust DIR/cert.pem.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <malloc.h>

#include "adapter.h"
#include "buf.h"
#include "error.h"
#include "follower.h"
#include "kube.h"
#include "stream.h"
#include "banned.h"

#define POD_PREFIX "/api/v1/namespaces/bench/pods/pod-"
#define MAX_LOG_LINE 65536
#define SLEEP_SLICE_MS 100 /* a waiting server thread checks for a stop this often */
#define END_GRACE_S 60     /* time after the last line is due for every stream to end */
#define CONNECT_LIMIT_S 60 /* time for every stream to deliver its first event */

struct options {
    unsigned streams;
    unsigned seconds;
    unsigned interval_ms;
    bool in_process;
    const char *tls_dir;
    const char *json_path;
    const char *fixture;
};

/* The log every pod serves: the fixture's lines, repeated. */
struct log_plan {
    char **lines; /* the fixture's lines, each with its '\n' */
    size_t *lens;
    size_t count;
    size_t total; /* lines per pod log */
    uint64_t interval_ns;
};

/* ---- the log server ---- */

struct pod_clock {
    int64_t wall_ns; /* timestamp of line 0 */
    int64_t mono_ns; /* when line 0 is due */
};

struct log_server {
    struct MHD_Daemon *daemon;
    const struct log_plan *plan;
    struct pod_clock *pods;
    unsigned pod_count;
    pthread_mutex_t lock;
    atomic_uint_fast64_t lines_sent;
    atomic_uint_fast64_t connections;
    atomic_bool stopping;
    int port;
};

struct reply {
    struct log_server *server;
    struct pod_clock clock;
    size_t next; /* index of the next line */
    char line[MAX_LOG_LINE];
    size_t len, off;
};

static int64_t clock_ns(clockid_t id)
{
    struct timespec ts;

    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void sleep_ns(int64_t ns)
{
    struct timespec ts = {(time_t)(ns / 1000000000), (long)(ns % 1000000000)};

    nanosleep(&ts, NULL);
}

/* Waits until line r->next is due and formats it with its timestamp into r->line. Returns false
 * when the server stops first or the line does not fit. */
static bool reply_next_line(struct reply *r)
{
    const struct log_plan *plan = r->server->plan;
    int64_t offset = (int64_t)(r->next * plan->interval_ns);
    int64_t due = r->clock.mono_ns + offset, wall = r->clock.wall_ns + offset;
    struct mason_timestamp ts = {wall / 1000000000, (int32_t)(wall % 1000000000)};
    struct mason_buf b = MASON_BUF_INIT;
    size_t i = r->next % plan->count;
    int64_t left;

    while ((left = due - clock_ns(CLOCK_MONOTONIC)) > 0) {
        if (atomic_load(&r->server->stopping))
            return false;
        sleep_ns(left < SLEEP_SLICE_MS * 1000000LL ? left : SLEEP_SLICE_MS * 1000000LL);
    }
    mason_buf_init(&b, sizeof(r->line));
    if (mason_timestamp_format(&ts, true, &b) != 0 || mason_buf_adds(&b, " ") != 0 ||
        mason_buf_add(&b, plan->lines[i], plan->lens[i]) != 0 || b.len > sizeof(r->line)) {
        mason_buf_release(&b);
        return false;
    }
    memcpy(r->line, b.data, b.len);
    r->len = b.len;
    r->off = 0;
    r->next++;
    mason_buf_release(&b);
    atomic_fetch_add(&r->server->lines_sent, 1);
    return true;
}

/* Sends the log line by line; a thread per connection may block here until a line is due. */
static ssize_t reply_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct reply *r = cls;
    size_t n;

    (void)pos;
    if (r->off == r->len) {
        if (r->next == r->server->plan->total)
            return MHD_CONTENT_READER_END_OF_STREAM;
        if (!reply_next_line(r))
            return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    n = r->len - r->off < max ? r->len - r->off : max;
    memcpy(buf, r->line + r->off, n);
    r->off += n;
    return (ssize_t)n;
}

/* Returns pod N's clock, starting it at its first connection. */
static struct pod_clock pod_clock_get(struct log_server *s, unsigned pod)
{
    struct pod_clock c;

    pthread_mutex_lock(&s->lock);
    if (s->pods[pod].mono_ns == 0) {
        s->pods[pod].mono_ns = clock_ns(CLOCK_MONOTONIC);
        s->pods[pod].wall_ns = clock_ns(CLOCK_REALTIME);
    }
    c = s->pods[pod];
    pthread_mutex_unlock(&s->lock);
    return c;
}

/* Parses N from ".../pods/pod-N/log"; returns -1 for any other path. */
static long pod_index(const char *url, unsigned pod_count)
{
    char *end;
    long n;

    if (strncmp(url, POD_PREFIX, strlen(POD_PREFIX)) != 0)
        return -1;
    errno = 0;
    n = strtol(url + strlen(POD_PREFIX), &end, 10);
    if (errno || n < 0 || (unsigned long)n >= pod_count || strcmp(end, "/log") != 0)
        return -1;
    return n;
}

static enum MHD_Result server_handle(void *cls, struct MHD_Connection *conn, const char *url,
                                     const char *method, const char *version, const char *upload,
                                     size_t *upload_size, void **con_cls)
{
    struct log_server *s = cls;
    const char *timestamps = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "timestamps");
    long pod = pod_index(url, s->pod_count);
    struct MHD_Response *resp;
    struct reply *r;
    enum MHD_Result ret;

    (void)version, (void)upload, (void)upload_size, (void)con_cls;
    if (strcmp(method, "GET") != 0 || pod < 0 || !timestamps || strcmp(timestamps, "true") != 0)
        return MHD_NO;
    r = calloc(1, sizeof(*r));
    if (!r)
        return MHD_NO;
    r->server = s;
    r->clock = pod_clock_get(s, (unsigned)pod);
    atomic_fetch_add(&s->connections, 1);
    resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384, reply_read, r, free);
    if (!resp) {
        free(r);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type", "text/plain");
    ret = MHD_queue_response(conn, MHD_HTTP_OK, resp);
    MHD_destroy_response(resp);
    return ret;
}

static int read_text(const char *dir, const char *name, char **out)
{
    struct mason_buf path = MASON_BUF_INIT;
    int rc = mason_buf_addf(&path, "%s/%s", dir, name);

    if (rc == 0)
        rc = mason_kube_config_read_file(mason_buf_str(&path), 1u << 20, out, NULL);
    if (rc)
        fprintf(stderr, "follower-bench: cannot read %s: %s\n", mason_buf_str(&path),
                mason_strerror(rc));
    mason_buf_release(&path);
    return rc;
}

/* Starts the server on an ephemeral port of 127.0.0.1. Returns 0 or -1. */
static int server_start(struct log_server *s, const struct log_plan *plan,
                        const struct options *opt)
{
    struct sockaddr_in addr = {.sin_family = AF_INET};
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL;
    const union MHD_DaemonInfo *info;
    char *cert = NULL, *key = NULL;

    memset(s, 0, sizeof(*s));
    s->plan = plan;
    s->pod_count = opt->streams;
    s->pods = calloc(opt->streams, sizeof(*s->pods));
    pthread_mutex_init(&s->lock, NULL);
    if (opt->tls_dir && (read_text(opt->tls_dir, "cert.pem", &cert) != 0 ||
                         read_text(opt->tls_dir, "key.pem", &key) != 0))
        return -1;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    /* Without a key and certificate the last two options end the list early. */
    s->daemon = MHD_start_daemon(
        flags | (opt->tls_dir ? MHD_USE_TLS : 0), 0, NULL, NULL, server_handle, s,
        MHD_OPTION_SOCK_ADDR, &addr, MHD_OPTION_CONNECTION_LIMIT, opt->streams + 64,
        MHD_OPTION_LISTEN_BACKLOG_SIZE, 4096, MHD_OPTION_THREAD_STACK_SIZE, (size_t)256 * 1024,
        MHD_OPTION_CONNECTION_TIMEOUT, 0u, key ? MHD_OPTION_HTTPS_MEM_KEY : MHD_OPTION_END, key,
        MHD_OPTION_HTTPS_MEM_CERT, cert, MHD_OPTION_END);
    free(cert);
    free(key);
    if (!s->pods || !s->daemon)
        return -1;
    info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? info->port : 0;
    return s->port ? 0 : -1;
}

static void server_stop(struct log_server *s)
{
    atomic_store(&s->stopping, true);
    if (s->daemon)
        MHD_stop_daemon(s->daemon);
    free(s->pods);
    pthread_mutex_destroy(&s->lock);
}

/* ---- process and thread measurements ---- */

/* Reads a "Key:   N kB" field of /proc/PID/status in KiB; -1 when missing. */
static long proc_status_kib(pid_t pid, const char *field)
{
    char path[64], line[256];
    size_t flen = strlen(field);
    long kib = -1;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
    f = fopen(path, "r");
    if (!f)
        return -1;
    while (fgets(line, sizeof(line), f))
        if (strncmp(line, field, flen) == 0 && line[flen] == ':')
            kib = strtol(line + flen + 1, NULL, 10);
    fclose(f);
    return kib;
}

/* Returns utime + stime in seconds from a /proc stat file, or -1. */
static double proc_stat_cpu(const char *path)
{
    char text[1024], *p;
    unsigned long utime, stime;
    size_t n;
    FILE *f = fopen(path, "r");

    if (!f)
        return -1;
    n = fread(text, 1, sizeof(text) - 1, f);
    fclose(f);
    text[n] = '\0';
    p = strrchr(text, ')'); /* the command name may hold spaces */
    if (!p ||
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime, &stime) != 2)
        return -1;
    return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

static double pid_cpu(pid_t pid)
{
    char path[64];

    snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
    return proc_stat_cpu(path);
}

static double tid_cpu(long tid)
{
    char path[96];

    if (tid <= 0)
        return -1;
    snprintf(path, sizeof(path), "/proc/self/task/%ld/stat", tid);
    return proc_stat_cpu(path);
}

static double self_cpu(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

/* Lists the thread ids of this process into ids (at most max); returns how many. */
static size_t list_threads(long *ids, size_t max)
{
    DIR *d = opendir("/proc/self/task");
    struct dirent *de;
    size_t n = 0;

    while (d && (de = readdir(d)) != NULL && n < max)
        if (de->d_name[0] != '.')
            ids[n++] = strtol(de->d_name, NULL, 10);
    if (d)
        closedir(d);
    return n;
}

/* Returns the id in after[] that is not in before[], or -1. */
static long new_thread(const long *before, size_t nb, const long *after, size_t na)
{
    for (size_t i = 0; i < na; i++) {
        bool seen = false;

        for (size_t j = 0; j < nb && !seen; j++)
            seen = after[i] == before[j];
        if (!seen)
            return after[i];
    }
    return -1;
}

/* Raises the soft limit of open files to at least want, within the hard limit. */
static void raise_fd_limit(rlim_t want)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= want)
        return;
    rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want ? want : rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur < want)
        fprintf(stderr, "follower-bench: open files limited to %lu\n", (unsigned long)rl.rlim_cur);
}

/* ---- the follower side ---- */

struct stream_result {
    uint64_t events;
    uint64_t hash;
    bool finish_sent;
    enum mason_follow_end why;
    int last_error;
    struct mason_stream_stats stats;
};

struct bench {
    struct options opt;
    struct log_plan plan;
    uint64_t want_events; /* per stream */
    uint64_t want_hash;
    struct stream_result *results;
    struct mason_follower *follower;
    atomic_uint connected; /* streams that delivered an event */
    atomic_uint ended;
    atomic_uint_fast64_t events;
};

/* A measurement at one moment: wall time, CPU seconds of the process, the follower thread and
 * the server process, and the events delivered so far. */
struct sample {
    double t;
    double self_cpu, follower_cpu, server_cpu;
    uint64_t events;
};

struct measures {
    long rss_before_kib; /* before the follower was created */
    long rss_max_kib;    /* largest VmRSS while every stream was connected */
    long heap_kib;       /* malloc heap in use at that sample (mallinfo2, every arena) */
    long hwm_kib;        /* VmHWM before the follower was freed */
    long server_rss_kib; /* largest VmRSS of the server process, when separate */
    long server_hwm_kib; /* VmHWM of the server process, when separate */
    double connect_s;    /* from the first add until every stream delivered an event */
    bool steady;         /* a window was observed */
    struct sample first, last;
    uint64_t server_connections, server_lines;
};

static uint64_t fnv_add(uint64_t h, const void *data, size_t len)
{
    const unsigned char *p = data;

    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * 1099511628211u;
    return h;
}

/* Adds the parts of ev that identify it in its stream to the running hash h. */
static uint64_t event_hash(uint64_t h, const struct mason_event *ev)
{
    const char *id = ev->tool_id ? ev->tool_id : "";

    h = fnv_add(h, &ev->kind, sizeof(ev->kind));
    h = fnv_add(h, &ev->turn, sizeof(ev->turn));
    h = fnv_add(h, id, strlen(id) + 1);
    h = fnv_add(h, ev->args_hash, strlen(ev->args_hash));
    return fnv_add(h, &ev->is_error, sizeof(ev->is_error));
}

#define FNV_OFFSET 14695981039346656037u

static void count_direct(void *arg, const struct mason_event *ev)
{
    struct bench *b = arg;

    b->want_events++;
    b->want_hash = event_hash(b->want_hash, ev);
}

/* Parses one pod's whole log with a Claude Code adapter to get the events each stream must
 * deliver. Returns 0 or -1. */
static int expect_events(struct bench *b)
{
    struct mason_adapter *a = mason_adapter_create(MASON_ENGINE_CLAUDE_CODE, count_direct, b);
    int rc = a ? 0 : -1;

    b->want_hash = FNV_OFFSET;
    for (size_t k = 0; rc == 0 && k < b->plan.total; k++) {
        size_t i = k % b->plan.count;

        rc = mason_adapter_feed(a, b->plan.lines[i], b->plan.lens[i] - 1);
    }
    mason_adapter_free(a);
    return rc == 0 && b->want_events > 0 ? 0 : -1;
}

static long key_index(const char *key)
{
    const char *dash = strrchr(key, '-');

    return dash ? strtol(dash + 1, NULL, 10) : -1;
}

/* Counts an event. Once a stream has all its events, marks its pod finished with
 * mason_follower_finish, as the operator does when the pod ends, so the stream ends with the
 * body. */
static void on_event(void *arg, const char *key, const struct mason_event *ev,
                     const struct mason_stream_position *pos)
{
    struct bench *b = arg;
    struct stream_result *r = &b->results[key_index(key)];

    (void)pos;
    if (r->events++ == 0)
        atomic_fetch_add(&b->connected, 1);
    r->hash = event_hash(r->hash, ev);
    atomic_fetch_add(&b->events, 1);
    if (r->events == b->want_events && !r->finish_sent) {
        r->finish_sent = true;
        mason_follower_finish(b->follower, key);
    }
}

static void on_end(void *arg, const char *key, enum mason_follow_end why,
                   const struct mason_stream_stats *stats, int last_error)
{
    struct bench *b = arg;
    struct stream_result *r = &b->results[key_index(key)];

    r->why = why;
    r->last_error = last_error;
    r->stats = *stats;
    atomic_fetch_add(&b->ended, 1);
}

static int add_streams(struct bench *b)
{
    char key[64], pod[32];

    for (unsigned i = 0; i < b->opt.streams; i++) {
        struct mason_follow_target t = {key, "bench", pod, "agent", MASON_ENGINE_CLAUDE_CODE, NULL};
        int rc;

        snprintf(key, sizeof(key), "bench/pod-%u", i);
        snprintf(pod, sizeof(pod), "pod-%u", i);
        rc = mason_follower_add(b->follower, &t);
        if (rc) {
            fprintf(stderr, "follower-bench: adding %s failed: %s\n", key, mason_strerror(rc));
            return -1;
        }
    }
    return 0;
}

static double now_s(void)
{
    return (double)clock_ns(CLOCK_MONOTONIC) / 1e9;
}

static void take_sample(struct bench *b, long follower_tid, pid_t server_pid, struct sample *s)
{
    s->t = now_s();
    s->self_cpu = self_cpu();
    s->follower_cpu = tid_cpu(follower_tid);
    s->server_cpu = server_pid > 0 ? pid_cpu(server_pid) : -1;
    s->events = atomic_load(&b->events);
}

/*
 * Samples once a second until every stream ended or the time limit passed. The steady
 * window contains the samples taken while every stream was connected and none had ended.
 */
static void watch_run(struct bench *b, long follower_tid, pid_t server_pid, struct measures *m)
{
    double start = now_s();
    double limit = start + CONNECT_LIMIT_S + b->opt.seconds + END_GRACE_S;

    while (atomic_load(&b->ended) < b->opt.streams && now_s() < limit) {
        bool all = atomic_load(&b->connected) == b->opt.streams;
        bool none_ended = atomic_load(&b->ended) == 0;
        long rss = proc_status_kib(getpid(), "VmRSS");
        long server_rss = server_pid > 0 ? proc_status_kib(server_pid, "VmRSS") : -1;

        if (all && none_ended) {
            take_sample(b, follower_tid, server_pid, m->steady ? &m->last : &m->first);
            if (!m->steady)
                m->connect_s = m->first.t - start;
            m->steady = true;
            if (rss > m->rss_max_kib) {
                m->rss_max_kib = rss;
                m->heap_kib = (long)(mallinfo2().uordblks / 1024);
            }
        }
        m->server_rss_kib = server_rss > m->server_rss_kib ? server_rss : m->server_rss_kib;
        if (!all && now_s() > start + CONNECT_LIMIT_S)
            break;
        sleep_ns(all ? 1000000000LL : 100000000LL);
    }
    m->hwm_kib = proc_status_kib(getpid(), "VmHWM");
}

/* ---- the server process ---- */

struct server_child {
    pid_t pid;
    int ctl_fd; /* the parent closes it to stop the server */
    FILE *out;  /* the child's port line, then its result line */
    int port;
};

/* Runs the server in the child until the parent closes ctl_fd or the time limit passes, then
 * writes "connections lines cpu_seconds vmhwm_kib" and exits. */
static void server_child_main(const struct log_plan *plan, const struct options *opt, int ctl_fd,
                              FILE *out)
{
    struct log_server s;
    struct pollfd pfd = {.fd = ctl_fd, .events = POLLIN};
    int limit_ms = (CONNECT_LIMIT_S + (int)opt->seconds + END_GRACE_S + 30) * 1000;

    if (server_start(&s, plan, opt) != 0) {
        fprintf(out, "0\n");
        fflush(out);
        _exit(1);
    }
    fprintf(out, "%d\n", s.port);
    fflush(out);
    poll(&pfd, 1, limit_ms);
    fprintf(out, "%llu %llu %.3f %ld\n", (unsigned long long)atomic_load(&s.connections),
            (unsigned long long)atomic_load(&s.lines_sent), self_cpu(),
            proc_status_kib(getpid(), "VmHWM"));
    fflush(out);
    server_stop(&s);
    _exit(0);
}

/* Forks the server process; must run before any thread starts. Returns 0 or -1. */
static int server_child_start(struct server_child *c, const struct log_plan *plan,
                              const struct options *opt)
{
    int ctl[2], res[2];

    if (pipe(ctl) != 0 || pipe(res) != 0)
        return -1;
    fflush(NULL);
    c->pid = fork();
    if (c->pid < 0)
        return -1;
    if (c->pid == 0) {
        close(ctl[1]);
        close(res[0]);
        server_child_main(plan, opt, ctl[0], fdopen(res[1], "w"));
    }
    close(ctl[0]);
    close(res[1]);
    c->ctl_fd = ctl[1];
    c->out = fdopen(res[0], "r");
    if (!c->out || fscanf(c->out, "%d", &c->port) != 1 || c->port <= 0) {
        fprintf(stderr, "follower-bench: the server process did not start\n");
        return -1;
    }
    return 0;
}

static void server_child_stop(struct server_child *c, struct measures *m)
{
    unsigned long long conns = 0, lines = 0;
    double cpu = 0;
    long hwm = -1;

    close(c->ctl_fd);
    if (c->out && fscanf(c->out, "%llu %llu %lf %ld", &conns, &lines, &cpu, &hwm) == 4) {
        m->server_connections = conns;
        m->server_lines = lines;
        m->server_hwm_kib = hwm;
    }
    if (c->out)
        fclose(c->out);
    waitpid(c->pid, NULL, 0);
}

/* ---- the fixture ---- */

static int plan_grow(struct log_plan *p)
{
    char **lines = realloc(p->lines, (p->count + 64) * sizeof(*p->lines));
    size_t *lens;

    if (!lines)
        return -1;
    p->lines = lines;
    lens = realloc(p->lens, (p->count + 64) * sizeof(*p->lens));
    if (!lens)
        return -1;
    p->lens = lens;
    return 0;
}

static int plan_load(struct log_plan *p, const struct options *opt)
{
    FILE *f = fopen(opt->fixture, "rb");
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;

    memset(p, 0, sizeof(*p));
    if (!f) {
        fprintf(stderr, "follower-bench: cannot open %s: %s\n", opt->fixture, strerror(errno));
        return -1;
    }
    while ((n = getline(&line, &cap, f)) > 1 && (size_t)n < MAX_LOG_LINE - 64 && p->count < 4096) {
        if (line[n - 1] != '\n')
            break;
        if (p->count % 64 == 0 && plan_grow(p) != 0)
            break;
        p->lines[p->count] = strdup(line);
        if (!p->lines[p->count])
            break;
        p->lens[p->count++] = (size_t)n;
    }
    free(line);
    fclose(f);
    p->total = (size_t)opt->seconds * 1000 / opt->interval_ms;
    p->interval_ns = (uint64_t)opt->interval_ms * 1000000;
    if (p->count == 0 || p->total == 0) {
        fprintf(stderr, "follower-bench: %s has no usable lines\n", opt->fixture);
        return -1;
    }
    return 0;
}

static void plan_release(struct log_plan *p)
{
    for (size_t i = 0; i < p->count; i++)
        free(p->lines[i]);
    free(p->lines);
    free(p->lens);
}

/* ---- checks and the report ---- */

struct verdict {
    unsigned exact; /* streams that delivered every event once, in order, and finished */
    unsigned wrong_count, wrong_sequence, not_finished, reconnected;
    uint64_t events, lines, bytes, duplicates, too_long, connections;
};

static void check_streams(const struct bench *b, struct verdict *v)
{
    memset(v, 0, sizeof(*v));
    for (unsigned i = 0; i < b->opt.streams; i++) {
        const struct stream_result *r = &b->results[i];
        bool count_ok = r->events == b->want_events;
        bool sequence_ok = count_ok && r->hash == b->want_hash;
        bool finished = r->why == MASON_FOLLOW_FINISHED;

        v->wrong_count += !count_ok;
        v->wrong_sequence += count_ok && !sequence_ok;
        v->not_finished += !finished;
        v->reconnected += r->stats.connections > 1;
        v->exact += sequence_ok && finished;
        v->events += r->events;
        v->lines += r->stats.lines;
        v->bytes += r->stats.bytes;
        v->duplicates += r->stats.duplicates;
        v->too_long += r->stats.too_long;
        v->connections += r->stats.connections;
    }
}

/* A measured number, or null when it does not apply (negative). */
static json_t *number(double x)
{
    return x < 0 ? json_null() : json_real(x);
}

static json_t *mib(long kib)
{
    return number(kib < 0 ? -1 : (double)kib / 1024.0);
}

static json_t *cpu_delta(double first, double last)
{
    return number(first < 0 || last < 0 ? -1 : last - first);
}

static json_t *memory_json(const struct measures *m)
{
    return json_pack("{s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "rss_before_follower", mib(m->rss_before_kib),
                     "rss_max_steady", mib(m->rss_max_kib), "heap_in_use", mib(m->heap_kib), "hwm",
                     mib(m->hwm_kib), "follower_share", mib(m->rss_max_kib - m->rss_before_kib),
                     "server_rss_max", mib(m->server_rss_kib), "server_hwm",
                     mib(m->server_hwm_kib));
}

static json_t *window_json(const struct measures *m)
{
    double seconds = m->last.t - m->first.t;
    double events = (double)(m->last.events - m->first.events);

    return json_pack("{s:f,s:f,s:o,s:o,s:o,s:f}", "seconds", seconds, "connect_seconds",
                     m->connect_s, "process_cpu_s", cpu_delta(m->first.self_cpu, m->last.self_cpu),
                     "follower_thread_cpu_s",
                     cpu_delta(m->first.follower_cpu, m->last.follower_cpu), "server_process_cpu_s",
                     cpu_delta(m->first.server_cpu, m->last.server_cpu), "events_per_s",
                     seconds > 0 ? events / seconds : 0.0);
}

static json_t *delivery_json(const struct measures *m, const struct verdict *v)
{
    return json_pack(
        "{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "streams_exact",
        (json_int_t)v->exact, "wrong_count", (json_int_t)v->wrong_count, "wrong_sequence",
        (json_int_t)v->wrong_sequence, "not_finished", (json_int_t)v->not_finished, "reconnected",
        (json_int_t)v->reconnected, "events", (json_int_t)v->events, "lines", (json_int_t)v->lines,
        "bytes", (json_int_t)v->bytes, "duplicates", (json_int_t)v->duplicates, "too_long",
        (json_int_t)v->too_long, "connections", (json_int_t)v->connections, "server_connections",
        (json_int_t)m->server_connections, "server_lines", (json_int_t)m->server_lines);
}

static json_t *report_json(const struct bench *b, const struct measures *m, const struct verdict *v)
{
    return json_pack("{s:{s:i,s:i,s:i,s:b,s:b},s:{s:I,s:I},s:o,s:o,s:o}", "config", "streams",
                     (int)b->opt.streams, "seconds", (int)b->opt.seconds, "interval_ms",
                     (int)b->opt.interval_ms, "in_process", b->opt.in_process, "tls",
                     b->opt.tls_dir != NULL, "per_stream", "lines", (json_int_t)b->plan.total,
                     "events", (json_int_t)b->want_events, "memory_mib", memory_json(m),
                     "steady_window", window_json(m), "delivery", delivery_json(m, v));
}

static void report_print(json_t *report, const char *json_path)
{
    char *text = json_dumps(report, JSON_INDENT(2) | JSON_PRESERVE_ORDER);

    if (text)
        printf("%s\n", text);
    free(text);
    if (json_path && json_dump_file(report, json_path, JSON_INDENT(2) | JSON_PRESERVE_ORDER) != 0)
        fprintf(stderr, "follower-bench: cannot write %s\n", json_path);
}

/* ---- main ---- */

static int parse_unsigned(const char *s, unsigned *out)
{
    char *end;
    unsigned long v;

    errno = 0;
    v = strtoul(s ? s : "", &end, 10);
    if (!s || errno || *end || v == 0 || v > 1000000)
        return -1;
    *out = (unsigned)v;
    return 0;
}

static int parse_options(int argc, char **argv, struct options *o)
{
    *o = (struct options){1000, 60, 100, false, NULL, NULL, NULL};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int rc = 0;

        if (strcmp(a, "--streams") == 0 && ++i)
            rc = parse_unsigned(v, &o->streams);
        else if (strcmp(a, "--seconds") == 0 && ++i)
            rc = parse_unsigned(v, &o->seconds);
        else if (strcmp(a, "--interval-ms") == 0 && ++i)
            rc = parse_unsigned(v, &o->interval_ms);
        else if (strcmp(a, "--tls") == 0 && ++i)
            rc = (o->tls_dir = v) ? 0 : -1;
        else if (strcmp(a, "--json") == 0 && ++i)
            rc = (o->json_path = v) ? 0 : -1;
        else if (strcmp(a, "--in-process") == 0)
            o->in_process = true;
        else if (a[0] != '-' && !o->fixture)
            o->fixture = a;
        else
            rc = -1;
        if (rc) {
            fprintf(stderr, "follower-bench: invalid argument %s\n", a);
            return -1;
        }
    }
    return o->fixture ? 0 : -1;
}

static struct mason_kube *kube_for(const struct options *opt, int port)
{
    struct mason_kube_config cfg;
    struct mason_kube *kube;
    char url[64];

    mason_kube_config_init(&cfg);
    snprintf(url, sizeof(url), "%s://127.0.0.1:%d", opt->tls_dir ? "https" : "http", port);
    cfg.server = strdup(url);
    cfg.token = strdup("bench-token");
    if (opt->tls_dir && read_text(opt->tls_dir, "cert.pem", &cfg.ca_pem) != 0) {
        mason_kube_config_release(&cfg);
        return NULL;
    }
    kube = mason_kube_create(&cfg);
    mason_kube_config_release(&cfg);
    return kube;
}

/* Creates the follower, adds every stream and measures until they end. Returns 0 or -1. */
static int run_follower(struct bench *b, struct mason_kube *kube, pid_t server_pid,
                        struct measures *m)
{
    static const struct mason_follower_options fopts = {0, 0, 0, 0};
    struct mason_follower_callbacks cb = {on_event, on_end, b};
    long before[4096], after[4096];
    size_t nb, na;
    long tid;

    m->rss_before_kib = proc_status_kib(getpid(), "VmRSS");
    nb = list_threads(before, 4096);
    b->follower = mason_follower_create(kube, &fopts, &cb);
    if (!b->follower)
        return -1;
    na = list_threads(after, 4096);
    tid = new_thread(before, nb, after, na);
    if (add_streams(b) == 0)
        watch_run(b, tid, server_pid, m);
    if (!m->steady)
        fprintf(stderr, "follower-bench: %u of %u streams delivered an event\n",
                atomic_load(&b->connected), b->opt.streams);
    mason_follower_free(b->follower);
    b->follower = NULL;
    return m->steady ? 0 : -1;
}

int main(int argc, char **argv)
{
    struct bench b = {0};
    struct measures m = {.server_rss_kib = -1, .server_hwm_kib = -1};
    struct server_child child = {.pid = -1};
    struct log_server inproc = {0};
    struct mason_kube *kube = NULL;
    struct verdict v;
    json_t *report;
    int port, rc = 1;

    if (parse_options(argc, argv, &b.opt) != 0) {
        fprintf(stderr, "usage: follower-bench [--streams N] [--seconds S] [--interval-ms MS] "
                        "[--in-process] [--tls DIR] [--json FILE] FIXTURE\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    raise_fd_limit((rlim_t)b.opt.streams * 2 + 256);
    if (plan_load(&b.plan, &b.opt) != 0 || expect_events(&b) != 0)
        return 1;
    b.results = calloc(b.opt.streams, sizeof(*b.results));
    if (!b.results)
        return 1;
    for (unsigned i = 0; i < b.opt.streams; i++)
        b.results[i].hash = FNV_OFFSET;
    if (b.opt.in_process ? server_start(&inproc, &b.plan, &b.opt)
                         : server_child_start(&child, &b.plan, &b.opt)) {
        fprintf(stderr, "follower-bench: the log server did not start\n");
        goto out;
    }
    port = b.opt.in_process ? inproc.port : child.port;
    kube = kube_for(&b.opt, port);
    if (!kube || run_follower(&b, kube, child.pid, &m) != 0)
        goto out;
    rc = 0;
out:
    if (b.opt.in_process)
        server_stop(&inproc);
    else if (child.pid > 0)
        server_child_stop(&child, &m);
    mason_kube_free(kube);
    if (rc == 0) {
        check_streams(&b, &v);
        report = report_json(&b, &m, &v);
        report_print(report, b.opt.json_path);
        json_decref(report);
        rc = v.exact == b.opt.streams ? 0 : 1;
    }
    free(b.results);
    plan_release(&b.plan);
    return rc;
}
