#include "error.h"

#include <stddef.h>

#include "banned.h"

struct error_entry {
    int code;
    const char *name;
    const char *message;
};

static const struct error_entry errors[] = {
#define MASON_ERROR_ROW(name, msg) {MASON_E##name, #name, msg},
    MASON_ERROR_TABLE(MASON_ERROR_ROW)
#undef MASON_ERROR_ROW
};

static const struct error_entry *error_lookup(int err)
{
    for (unsigned i = 0; i < sizeof(errors) / sizeof(errors[0]); i++)
        if (errors[i].code == err)
            return &errors[i];
    return NULL;
}

const char *mason_strerror(int err)
{
    const struct error_entry *e = error_lookup(err);

    if (err == 0)
        return "success";
    return e ? e->message : "unknown error";
}

const char *mason_errname(int err)
{
    const struct error_entry *e = error_lookup(err);

    if (err == 0)
        return "OK";
    return e ? e->name : "UNKNOWN";
}
