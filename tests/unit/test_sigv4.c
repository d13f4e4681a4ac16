/* SigV4 signing checked against the cases of AWS's signature test suite in tests/fixtures/sigv4. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "buf.h"
#include "error.h"
#include "sigv4.h"

#define MAX_TEST_HEADERS 16

static const char *fixture_dir(struct mason_buf *path)
{
    const char *top = getenv("MASON_TEST_TOP");

    mason_buf_reset(path);
    mason_buf_addf(path, "%s/tests/fixtures/sigv4", top ? top : ".");
    return mason_buf_str(path);
}

static json_t *load_json(const char *dir, const char *name)
{
    struct mason_buf path = MASON_BUF_INIT;
    json_error_t jerr;
    json_t *doc;

    mason_buf_addf(&path, "%s/%s", dir, name);
    doc = json_load_file(mason_buf_str(&path), 0, &jerr);
    if (!doc)
        fail_msg("%s: %s", mason_buf_str(&path), jerr.text);
    mason_buf_release(&path);
    return doc;
}

static void signer_from_json(const json_t *doc, struct mason_sigv4_signer *s)
{
    s->access_key_id = json_string_value(json_object_get(doc, "access_key_id"));
    s->secret_access_key = json_string_value(json_object_get(doc, "secret_access_key"));
    s->region = json_string_value(json_object_get(doc, "region"));
    s->service = json_string_value(json_object_get(doc, "service"));
    s->amz_date = json_string_value(json_object_get(doc, "amz_date"));
}

/* Signs one case and compares each step with the suite's expected output. */
static void check_case(const char *name, const json_t *doc, const struct mason_sigv4_signer *s)
{
    const json_t *r = json_object_get(doc, "request");
    const json_t *hdrs = json_object_get(r, "headers");
    struct mason_sigv4_header headers[MAX_TEST_HEADERS];
    struct mason_sigv4_request req = {0};
    struct mason_buf creq = MASON_BUF_INIT, sts = MASON_BUF_INIT, authz = MASON_BUF_INIT;
    size_t i;

    assert_true(json_array_size(hdrs) <= MAX_TEST_HEADERS);
    for (i = 0; i < json_array_size(hdrs); i++) {
        headers[i].name = json_string_value(json_array_get(json_array_get(hdrs, i), 0));
        headers[i].value = json_string_value(json_array_get(json_array_get(hdrs, i), 1));
    }
    req.method = json_string_value(json_object_get(r, "method"));
    req.path = json_string_value(json_object_get(r, "path"));
    req.query = json_string_value(json_object_get(r, "query"));
    req.headers = headers;
    req.header_count = i;
    req.body = json_string_value(json_object_get(r, "body"));
    req.body_len = json_string_length(json_object_get(r, "body"));

    assert_int_equal(mason_sigv4_sign(&req, s, &authz, &creq, &sts), 0);
    if (strcmp(mason_buf_str(&creq), json_string_value(json_object_get(doc, "canonical_request"))))
        fail_msg("%s: canonical request differs:\n%s", name, mason_buf_str(&creq));
    if (strcmp(mason_buf_str(&sts), json_string_value(json_object_get(doc, "string_to_sign"))))
        fail_msg("%s: string to sign differs:\n%s", name, mason_buf_str(&sts));
    if (strcmp(mason_buf_str(&authz), json_string_value(json_object_get(doc, "authorization"))))
        fail_msg("%s: authorization differs:\n%s", name, mason_buf_str(&authz));
    mason_buf_release(&creq);
    mason_buf_release(&sts);
    mason_buf_release(&authz);
}

static void sigv4_matches_aws_test_suite(void **state)
{
    struct mason_buf dirpath = MASON_BUF_INIT;
    const char *dir = fixture_dir(&dirpath);
    struct mason_sigv4_signer signer;
    json_t *signer_doc = load_json(dir, "signer.json");
    struct dirent *ent;
    DIR *d = opendir(dir);
    int cases = 0;

    (void)state;
    assert_non_null(d);
    signer_from_json(signer_doc, &signer);
    while ((ent = readdir(d)) != NULL) {
        size_t len = strlen(ent->d_name);
        json_t *doc;

        if (len < 6 || strcmp(ent->d_name + len - 5, ".json") ||
            !strcmp(ent->d_name, "signer.json"))
            continue;
        doc = load_json(dir, ent->d_name);
        check_case(ent->d_name, doc, &signer);
        json_decref(doc);
        cases++;
    }
    closedir(d);
    assert_true(cases >= 10);
    json_decref(signer_doc);
    mason_buf_release(&dirpath);
}

static void sigv4_rejects_bad_date(void **state)
{
    struct mason_sigv4_signer s = {"AKID", "secret", "us-east-1", "sts", "2015-08-30"};
    struct mason_sigv4_request req = {"GET", "/", NULL, NULL, 0, NULL, 0};
    struct mason_buf out = MASON_BUF_INIT;

    (void)state;
    assert_int_equal(mason_sigv4_sign(&req, &s, &out, NULL, NULL), MASON_EINVAL);
    mason_buf_release(&out);
}

static void sigv4_encodes_reserved_characters(void **state)
{
    struct mason_buf out = MASON_BUF_INIT;

    (void)state;
    assert_int_equal(mason_sigv4_uri_encode("a b/c+d=", 8, 0, &out), 0);
    assert_string_equal(mason_buf_str(&out), "a%20b%2Fc%2Bd%3D");
    mason_buf_reset(&out);
    assert_int_equal(mason_sigv4_uri_encode("a/b", 3, 1, &out), 0);
    assert_string_equal(mason_buf_str(&out), "a/b");
    mason_buf_release(&out);
}

static void sigv4_canonical_query(void **state)
{
    struct mason_sigv4_signer s = {"AKID", "secret", "us-east-1", "sts", "20150830T123600Z"};
    struct mason_sigv4_request req = {"GET", "/", "b=%41%2b&a=x%zz&c=&d=%7", NULL, 0, NULL, 0};
    struct mason_buf out = MASON_BUF_INIT, creq = MASON_BUF_INIT;

    (void)state;
    assert_int_equal(mason_sigv4_sign(&req, &s, &out, &creq, NULL), 0);
    /* Sorted, escapes decoded and encoded again in upper case, a stray '%' encoded. */
    assert_non_null(strstr(mason_buf_str(&creq), "\na=x%25zz&b=A%2B&c=&d=%257\n"));
    mason_buf_release(&out);
    mason_buf_release(&creq);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sigv4_matches_aws_test_suite),
        cmocka_unit_test(sigv4_rejects_bad_date),
        cmocka_unit_test(sigv4_encodes_reserved_characters),
        cmocka_unit_test(sigv4_canonical_query),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
