/*
 * Structured logging: one JSON object per line on stderr, with ts, level,
 * component, msg and the object the message is about. The level is checked
 * before anything is formatted. Callers never pass secret values.
 */
#ifndef MASON_LOG_H
#define MASON_LOG_H

#include <jansson.h>

enum mason_log_level {
    MASON_LOG_DEBUG = 0,
    MASON_LOG_INFO,
    MASON_LOG_WARN,
    MASON_LOG_ERROR,
};

/* The object a log line is about; any field may be NULL. */
struct mason_log_ctx {
    const char *namespace;
    const char *name;
    const char *uid;
    const char *run;
};

/* Sets the component name written into every line ("operator", "webhook"). */
void mason_log_set_component(const char *component);

/* Sets the minimum level written. */
void mason_log_set_level(enum mason_log_level level);

/* Parses "debug", "info", "warn" or "error". Returns 0 or MASON_EINVAL. */
int mason_log_parse_level(const char *s, enum mason_log_level *out);

/* Returns whether a line at level would be written. */
int mason_log_enabled(enum mason_log_level level);

/* Writes one line. extra (may be NULL) holds more fields and is stolen. */
void mason_log_write(enum mason_log_level level, const struct mason_log_ctx *ctx, json_t *extra,
                     const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#define MASON_LOG(level, ctx, extra, ...)                                                          \
    do {                                                                                           \
        if (mason_log_enabled(level))                                                              \
            mason_log_write(level, ctx, extra, __VA_ARGS__);                                       \
        else                                                                                       \
            json_decref(extra);                                                                    \
    } while (0)

#define mason_debug(ctx, ...) MASON_LOG(MASON_LOG_DEBUG, ctx, NULL, __VA_ARGS__)
#define mason_info(ctx, ...) MASON_LOG(MASON_LOG_INFO, ctx, NULL, __VA_ARGS__)
#define mason_warn(ctx, ...) MASON_LOG(MASON_LOG_WARN, ctx, NULL, __VA_ARGS__)
#define mason_error(ctx, ...) MASON_LOG(MASON_LOG_ERROR, ctx, NULL, __VA_ARGS__)

#endif
