/*
 * AdmissionReview v1 handling: parses a review, decides by endpoint, mode
 * and exemptions, and builds the response review that echoes the request
 * uid. Pure over its inputs apart from the configuration it borrows, so the
 * server, the fuzz target and the tests call it the same way.
 */
#ifndef MASON_ADMISSION_H
#define MASON_ADMISSION_H

#include <stddef.h>

#include "buf.h"
#include "secrets.h"
#include "webhook_config.h"

/* Warnings the API server shows to clients are kept shorter than this. */
#define MASON_ADMISSION_WARNING_MAX 120
/* At most this many warnings per response; the rest are counted in one more. */
#define MASON_ADMISSION_MAX_WARNINGS 16
/* Cap on the denial message and on the audit annotation. */
#define MASON_ADMISSION_MESSAGE_MAX 4096
/* Cap on the request uid, which the API server sets to a UUID. */
#define MASON_ADMISSION_UID_MAX 128

enum mason_endpoint {
    MASON_ENDPOINT_MUTATE_PODS,
    MASON_ENDPOINT_VALIDATE_PODS,
    MASON_ENDPOINT_MUTATE_AGENTTASKS,
    MASON_ENDPOINT_VALIDATE_AGENTTASKS,
    MASON_ENDPOINT_COUNT,
};

/* Returns the endpoint's metric label, such as "validate_pods". */
const char *mason_endpoint_name(enum mason_endpoint endpoint);

/* The configuration reviews are decided with; both pointers are borrowed. */
struct mason_admission {
    const struct mason_webhook_config *cfg;
    const struct mason_secrets_config *secrets;
};

/* The result of one review. */
struct mason_admission_outcome {
    int http_status;       /* 200, or 400 when the body is not a valid AdmissionReview */
    struct mason_buf body; /* the response AdmissionReview, or a plain-text error */
    const char *decision;  /* static: allowed, patched, denied, warned, audited, exempt, invalid */
    char operation[16];    /* the request's operation, "" when unknown */
    char uid[MASON_ADMISSION_UID_MAX + 1];
    char namespace[64];
    char name[254];
    int dry_run;
    char message[512]; /* the denial message, cut on a character boundary; "" when allowed */
};

void mason_admission_outcome_init(struct mason_admission_outcome *out);
void mason_admission_outcome_release(struct mason_admission_outcome *out);

/*
 * Decides the AdmissionReview in body for endpoint. mode applies to
 * MASON_ENDPOINT_VALIDATE_PODS only. Fills out in every case: a malformed
 * review gives http_status 400 and a plain-text reason. Returns 0, or
 * MASON_ENOMEM.
 */
int mason_admission_review(const struct mason_admission *a, enum mason_endpoint endpoint,
                           enum mason_mode mode, const char *body, size_t len,
                           struct mason_admission_outcome *out);

#endif
