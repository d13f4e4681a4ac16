#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "banned.h"

static const char *log_component = "mason";
static enum mason_log_level log_level = MASON_LOG_INFO;
static const char *const level_names[] = {"debug", "info", "warn", "error"};

void mason_log_set_component(const char *component)
{
    log_component = component;
}

void mason_log_set_level(enum mason_log_level level)
{
    log_level = level;
}

int mason_log_parse_level(const char *s, enum mason_log_level *out)
{
    for (int i = 0; i < 4; i++) {
        if (strcmp(s, level_names[i]) == 0) {
            *out = (enum mason_log_level)i;
            return 0;
        }
    }
    return -1;
}

int mason_log_enabled(enum mason_log_level level)
{
    return level >= log_level;
}

static void log_timestamp(char *out, size_t size)
{
    struct timespec now;
    struct tm tm;

    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    snprintf(out, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (long)(now.tv_nsec / 1000000) % 1000);
}

static void log_set_str(json_t *line, const char *key, const char *value)
{
    if (value)
        json_object_set_new(line, key, json_string(value));
}

void mason_log_write(enum mason_log_level level, const struct mason_log_ctx *ctx, json_t *extra,
                     const char *fmt, ...)
{
    struct mason_buf msg = MASON_BUF_INIT;
    char ts[64];
    json_t *line = json_object();
    char *text;
    va_list ap;

    va_start(ap, fmt);
    mason_buf_vaddf(&msg, fmt, ap);
    va_end(ap);
    log_timestamp(ts, sizeof(ts));

    json_object_set_new(line, "ts", json_string(ts));
    json_object_set_new(line, "level", json_string(level_names[level]));
    json_object_set_new(line, "component", json_string(log_component));
    json_object_set_new(line, "msg", json_string(mason_buf_str(&msg)));
    if (ctx) {
        log_set_str(line, "namespace", ctx->namespace);
        log_set_str(line, "name", ctx->name);
        log_set_str(line, "uid", ctx->uid);
        log_set_str(line, "run", ctx->run);
    }
    if (extra)
        json_object_update_missing(line, extra);

    text = json_dumps(line, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (text) {
        flockfile(stderr);
        fputs(text, stderr);
        fputc('\n', stderr);
        funlockfile(stderr);
        free(text);
    }
    json_decref(extra);
    json_decref(line);
    mason_buf_release(&msg);
}
