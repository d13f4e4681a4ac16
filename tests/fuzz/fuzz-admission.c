/*
 * Fuzz target: raw request bytes through the AdmissionReview parser, every
 * endpoint's decision and the response. For pod mutations it also applies
 * the patch to the request's pod and checks that a second mutation is empty.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "admission.h"
#include "patch.h"
#include "secrets.h"
#include "webhook_config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct mason_webhook_config cfg;
static struct mason_secrets_config secrets;
static int initialised;

static void init_once(void)
{
    json_t *resolver = json_pack("{s:{s:[s], s:[s]}}", "policy", "allowed_schemes", "k8s",
                                 "blocked_env_patterns", "AWS_*");
    struct mason_buf err = MASON_BUF_INIT;

    if (mason_webhook_config_init(&cfg) || mason_secrets_config_parse(resolver, &secrets, &err))
        abort();
    json_decref(resolver);
    mason_buf_release(&err);
    initialised = 1;
}

/* Mutating the patched pod again must give an empty patch. */
static void check_idempotent(const uint8_t *data, size_t size)
{
    json_t *root = json_loadb((const char *)data, size, 0, NULL);
    json_t *pod = json_deep_copy(json_object_get(json_object_get(root, "request"), "object"));
    json_t *patch = pod ? mason_patch_pod(pod, MASON_PATCH_POD) : NULL;
    struct mason_buf err = MASON_BUF_INIT;

    if (patch && mason_patch_apply(pod, patch, &err) == 0) {
        json_t *again = mason_patch_pod(pod, MASON_PATCH_POD);

        if (again && json_array_size(again) != 0)
            abort();
        json_decref(again);
    }
    mason_buf_release(&err);
    json_decref(patch);
    json_decref(pod);
    json_decref(root);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct mason_admission admission = {.cfg = &cfg, .secrets = &secrets};

    if (!initialised)
        init_once();
    for (int e = 0; e < MASON_ENDPOINT_COUNT; e++) {
        for (int m = 0; m < 3; m++) {
            struct mason_admission_outcome out;

            if (e != MASON_ENDPOINT_VALIDATE_PODS && m > 0)
                continue;
            json_t *response = NULL;

            mason_admission_outcome_init(&out);
            mason_admission_review(&admission, (enum mason_endpoint)e, (enum mason_mode)m,
                                   (const char *)data, size, &out);
            /* Every 200 response must be valid JSON. */
            if (out.http_status == 200) {
                response = json_loads(mason_buf_str(&out.body), 0, NULL);
                if (!response)
                    abort();
            }
            json_decref(response);
            mason_admission_outcome_release(&out);
        }
    }
    check_idempotent(data, size);
    return 0;
}
