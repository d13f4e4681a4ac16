/*
 * One table of error codes for the whole project. Functions that can fail
 * return 0 or a negative MASON_E* code; mason_strerror() gives its message and
 * mason_errname() its symbolic name for logs.
 */
#ifndef MASON_ERROR_H
#define MASON_ERROR_H

#define MASON_ERROR_TABLE(X)                                                                       \
    X(NOMEM, "out of memory")                                                                      \
    X(INVAL, "invalid argument")                                                                   \
    X(IO, "input/output error")                                                                    \
    X(PARSE, "malformed input")                                                                    \
    X(TOOBIG, "input exceeds its size limit")                                                      \
    X(HTTP, "HTTP request failed")                                                                 \
    X(CONNECT, "connection failed")                                                                \
    X(TIMEOUT, "timed out")                                                                        \
    X(NOTFOUND, "not found")                                                                       \
    X(EXISTS, "already exists")                                                                    \
    X(CONFLICT, "conflict")                                                                        \
    X(GONE, "resource version too old")                                                            \
    X(UNAUTHORIZED, "unauthorized")                                                                \
    X(FORBIDDEN, "forbidden")                                                                      \
    X(INVALID_OBJECT, "rejected as invalid by the server")                                         \
    X(THROTTLED, "too many requests")                                                              \
    X(UNAVAILABLE, "server unavailable")                                                           \
    X(CONFIG, "invalid configuration")                                                             \
    X(POLICY, "rejected by policy")

enum mason_error {
    MASON_OK = 0,
#define MASON_ERROR_ENUM(name, msg) MASON_E##name,
    MASON_E_FIRST_ = -1000,
    MASON_ERROR_TABLE(MASON_ERROR_ENUM)
#undef MASON_ERROR_ENUM
        MASON_E_LAST_
};

/* Returns a static message for err (0 or a MASON_E* code). */
const char *mason_strerror(int err);

/* Returns the static symbolic name of err, such as "NOTFOUND". */
const char *mason_errname(int err);

#endif
