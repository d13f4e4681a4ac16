/*
 * Unit tests for the Kubernetes client against the stub API server: request
 * building, list pagination, error mapping, retries, timeouts and tokens.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "error.h"
#include "kube.h"
#include "kube_internal.h"
#include "kube_stub.h"

struct fixture {
    struct stub stub;
    struct mason_kube *kube;
    struct mason_buf err;
};

static struct mason_kube *client_for(struct stub *stub, const char *token, const char *token_file)
{
    struct mason_kube_config cfg;
    struct mason_kube *kube;

    mason_kube_config_init(&cfg);
    cfg.server = stub->base_url;
    cfg.token = (char *)token;
    cfg.token_file = (char *)token_file;
    kube = mason_kube_create(&cfg);
    if (kube) {
        mason_kube_set_backoff(kube, 1, 5); /* keeps retry tests fast */
        mason_kube_set_timeout(kube, 5000);
    }
    return kube;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    if (!f || stub_start(&f->stub) != 0)
        return -1;
    f->kube = client_for(&f->stub, "secret-token", NULL);
    if (!f->kube)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    mason_kube_free(f->kube);
    stub_stop(&f->stub);
    mason_buf_release(&f->err);
    free(f);
    return 0;
}

static long elapsed_ms(const struct timespec *start)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (now.tv_sec - start->tv_sec) * 1000 + (now.tv_nsec - start->tv_nsec) / 1000000;
}

static const struct stub_request *request_at(struct fixture *f, int i)
{
    assert_true(stub_request_count(&f->stub) > i);
    return &f->stub.requests[i];
}

static void expect_path(const struct mason_kube_resource *res, const char *ns, const char *name,
                        const char *sub, const char *expected)
{
    struct mason_buf path = MASON_BUF_INIT;

    assert_int_equal(mason_kube_path(&path, res, ns, name, sub), 0);
    assert_string_equal(mason_buf_str(&path), expected);
    mason_buf_release(&path);
}

static void kube_path_core_and_groups(void **state)
{
    (void)state;
    expect_path(&MASON_KUBE_PODS, "ns", "p", "log", "/api/v1/namespaces/ns/pods/p/log");
    expect_path(&MASON_KUBE_PODS, NULL, NULL, NULL, "/api/v1/pods");
    expect_path(&MASON_KUBE_JOBS, "ns", NULL, NULL, "/apis/batch/v1/namespaces/ns/jobs");
    expect_path(&MASON_KUBE_AGENTTASKS, "agents", "t1", "status",
                "/apis/mason.dev/v1alpha1/namespaces/agents/agenttasks/t1/status");
    expect_path(&MASON_KUBE_NAMESPACES, "ignored", "agents", NULL, "/api/v1/namespaces/agents");
    expect_path(&MASON_KUBE_NETWORKPOLICIES, "ns", "np", NULL,
                "/apis/networking.k8s.io/v1/namespaces/ns/networkpolicies/np");
    expect_path(&MASON_KUBE_LEASES, "ns", "mason", NULL,
                "/apis/coordination.k8s.io/v1/namespaces/ns/leases/mason");
    /* A subresource without a name is dropped: it has no meaning on a collection. */
    expect_path(&MASON_KUBE_JOBS, "ns", NULL, "status", "/apis/batch/v1/namespaces/ns/jobs");
}

static void kube_path_escapes_segments(void **state)
{
    struct mason_buf path = MASON_BUF_INIT;

    (void)state;
    expect_path(&MASON_KUBE_SECRETS, "n s", "a/b?c#d%", NULL,
                "/api/v1/namespaces/n%20s/secrets/a%2Fb%3Fc%23d%25");
    expect_path(&MASON_KUBE_SECRETS, "ns", "x.y_z~-1", NULL,
                "/api/v1/namespaces/ns/secrets/x.y_z~-1");
    expect_path(&MASON_KUBE_SECRETS, "ns", "\xc3\xa9", NULL,
                "/api/v1/namespaces/ns/secrets/%C3%A9");
    assert_int_equal(mason_kube_path(&path, &MASON_KUBE_SECRETS, "ns", "..", NULL), MASON_EINVAL);
    mason_buf_reset(&path);
    assert_int_equal(mason_kube_path(&path, &MASON_KUBE_SECRETS, "ns", ".", NULL), MASON_EINVAL);
    mason_buf_reset(&path);
    assert_int_equal(mason_kube_path(&path, &MASON_KUBE_SECRETS, "", "x", NULL), MASON_EINVAL);
    mason_buf_reset(&path);
    assert_int_equal(mason_kube_path(&path, &MASON_KUBE_SECRETS, "ns", "", NULL), MASON_EINVAL);
    mason_buf_release(&path);
}

static void kube_get_sends_bearer_token(void **state)
{
    struct fixture *f = *state;
    const struct stub_request *req;
    json_t *pod = NULL;

    stub_script(&f->stub,
                (struct stub_reply){200, "{\"kind\":\"Pod\",\"metadata\":{\"name\":\"p\"}}"});
    assert_int_equal(mason_kube_get(f->kube, &MASON_KUBE_PODS, "ns", "p", &pod, &f->err), 0);
    assert_string_equal(json_string_value(json_object_get(pod, "kind")), "Pod");
    req = request_at(f, 0);
    assert_string_equal(req->method, "GET");
    assert_string_equal(req->path, "/api/v1/namespaces/ns/pods/p");
    assert_string_equal(req->query, "");
    assert_string_equal(req->authorization, "Bearer secret-token");
    assert_string_equal(req->body, "");
    json_decref(pod);
}

static void kube_get_without_token_sends_none(void **state)
{
    struct fixture *f = *state;
    struct mason_kube *anonymous = client_for(&f->stub, NULL, NULL);

    assert_int_equal(mason_kube_get(anonymous, &MASON_KUBE_PODS, "ns", "p", NULL, NULL), 0);
    assert_string_equal(request_at(f, 0)->authorization, "");
    mason_kube_free(anonymous);
}

static void kube_create_posts_json(void **state)
{
    struct fixture *f = *state;
    json_t *job = json_pack("{s:s, s:{s:s}}", "kind", "Job", "metadata", "name", "j");
    json_t *out = NULL, *sent;
    const struct stub_request *req;

    stub_script(&f->stub,
                (struct stub_reply){201, "{\"kind\":\"Job\",\"metadata\":{\"uid\":\"u1\"}}"});
    assert_int_equal(mason_kube_create_object(f->kube, &MASON_KUBE_JOBS, "ns", job, &out, &f->err),
                     0);
    assert_string_equal(json_string_value(json_object_get(json_object_get(out, "metadata"), "uid")),
                        "u1");
    req = request_at(f, 0);
    assert_string_equal(req->method, "POST");
    assert_string_equal(req->path, "/apis/batch/v1/namespaces/ns/jobs");
    assert_string_equal(req->content_type, "application/json");
    sent = json_loads(req->body, 0, NULL);
    assert_true(json_equal(sent, job));
    json_decref(sent);
    json_decref(out);
    json_decref(job);
}

static void kube_update_status_subresource(void **state)
{
    struct fixture *f = *state;
    json_t *task = json_pack("{s:{s:s}}", "status", "phase", "Running");
    const struct stub_request *req;

    assert_int_equal(mason_kube_update(f->kube, &MASON_KUBE_AGENTTASKS, "ns", "t", "status", task,
                                       NULL, &f->err),
                     0);
    req = request_at(f, 0);
    assert_string_equal(req->method, "PUT");
    assert_string_equal(req->path, "/apis/mason.dev/v1alpha1/namespaces/ns/agenttasks/t/status");
    assert_string_equal(req->content_type, "application/json");
    assert_non_null(strstr(req->body, "\"phase\":\"Running\""));
    json_decref(task);
}

static void kube_patch_content_types(void **state)
{
    struct fixture *f = *state;
    json_t *merge = json_pack("{s:{s:s}}", "metadata", "name", "t");
    json_t *ops =
        json_pack("[{s:s, s:s, s:s}]", "op", "add", "path", "/metadata/labels/a", "value", "b");

    assert_int_equal(mason_kube_patch(f->kube, &MASON_KUBE_AGENTTASKS, "ns", "t", NULL,
                                      MASON_KUBE_PATCH_MERGE, merge, NULL, NULL, &f->err),
                     0);
    assert_int_equal(mason_kube_patch(f->kube, &MASON_KUBE_AGENTTASKS, "ns", "t", "status",
                                      MASON_KUBE_PATCH_MERGE, merge, "mason op", NULL, &f->err),
                     0);
    assert_int_equal(mason_kube_patch(f->kube, &MASON_KUBE_JOBS, "ns", "j", NULL,
                                      MASON_KUBE_PATCH_JSON, ops, NULL, NULL, &f->err),
                     0);
    assert_int_equal(mason_kube_patch(f->kube, &MASON_KUBE_JOBS, "ns", "j", NULL,
                                      MASON_KUBE_PATCH_APPLY, merge, "mason", NULL, &f->err),
                     0);

    assert_string_equal(request_at(f, 0)->method, "PATCH");
    assert_string_equal(request_at(f, 0)->content_type, "application/merge-patch+json");
    assert_string_equal(request_at(f, 0)->query, "");
    assert_string_equal(request_at(f, 1)->path,
                        "/apis/mason.dev/v1alpha1/namespaces/ns/agenttasks/t/status");
    assert_string_equal(request_at(f, 1)->query, "fieldManager=mason op");
    assert_string_equal(request_at(f, 2)->content_type, "application/json-patch+json");
    assert_non_null(strstr(request_at(f, 2)->body, "\"op\":\"add\""));
    assert_string_equal(request_at(f, 3)->content_type, "application/apply-patch+yaml");
    assert_string_equal(request_at(f, 3)->query, "fieldManager=mason&force=true");
    assert_string_equal(request_at(f, 3)->path, "/apis/batch/v1/namespaces/ns/jobs/j");
    json_decref(merge);
    json_decref(ops);
}

static void kube_apply_needs_field_manager(void **state)
{
    struct fixture *f = *state;
    json_t *obj = json_object();

    assert_int_equal(mason_kube_patch(f->kube, &MASON_KUBE_JOBS, "ns", "j", NULL,
                                      MASON_KUBE_PATCH_APPLY, obj, NULL, NULL, &f->err),
                     MASON_EINVAL);
    assert_int_equal(stub_request_count(&f->stub), 0);
    assert_true(f->err.len > 0);
    json_decref(obj);
}

static void kube_delete_sends_propagation(void **state)
{
    struct fixture *f = *state;
    const struct stub_request *req;
    json_t *body;

    assert_int_equal(mason_kube_delete(f->kube, &MASON_KUBE_JOBS, "ns", "j", "Foreground", &f->err),
                     0);
    assert_int_equal(mason_kube_delete(f->kube, &MASON_KUBE_JOBS, "ns", "k", NULL, &f->err), 0);
    req = request_at(f, 0);
    assert_string_equal(req->method, "DELETE");
    assert_string_equal(req->path, "/apis/batch/v1/namespaces/ns/jobs/j");
    assert_string_equal(req->content_type, "application/json");
    body = json_loads(req->body, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(body, "kind")), "DeleteOptions");
    assert_string_equal(json_string_value(json_object_get(body, "propagationPolicy")),
                        "Foreground");
    json_decref(body);
    body = json_loads(request_at(f, 1)->body, 0, NULL);
    assert_null(json_object_get(body, "propagationPolicy"));
    json_decref(body);
}

static void kube_list_follows_continue(void **state)
{
    struct fixture *f = *state;
    struct mason_kube_list_opts opts = {"app=mason,tier in (a,b)", "status.phase!=Failed", 2};
    json_t *items = NULL;
    char *rv = NULL;

    stub_script(&f->stub, (struct stub_reply){
                              200, "{\"metadata\":{\"continue\":\"tok/1 +\",\"resourceVersion\":"
                                   "\"5\"},\"items\":[{\"metadata\":{\"name\":\"a\"}},"
                                   "{\"metadata\":{\"name\":\"b\"}}]}"});
    stub_script(&f->stub,
                (struct stub_reply){200, "{\"metadata\":{\"continue\":\"tok2\",\"resourceVersion\":"
                                         "\"6\"},\"items\":[{\"metadata\":{\"name\":\"c\"}},"
                                         "{\"apiVersion\":\"batch/v1\",\"kind\":\"Job\","
                                         "\"metadata\":{\"name\":\"d\"}}]}"});
    stub_script(&f->stub,
                (struct stub_reply){200, "{\"metadata\":{\"resourceVersion\":\"7\"},\"items\":["
                                         "{\"metadata\":{\"name\":\"e\"}}]}"});
    assert_int_equal(mason_kube_list(f->kube, &MASON_KUBE_JOBS, "ns", &opts, &items, &rv, &f->err),
                     0);
    assert_int_equal(json_array_size(items), 5);
    assert_string_equal(rv, "7");
    for (size_t i = 0; i < json_array_size(items); i++) {
        json_t *item = json_array_get(items, i);

        assert_string_equal(json_string_value(json_object_get(item, "apiVersion")), "batch/v1");
        assert_string_equal(json_string_value(json_object_get(item, "kind")), "Job");
    }
    assert_int_equal(stub_request_count(&f->stub), 3);
    assert_string_equal(request_at(f, 0)->path, "/apis/batch/v1/namespaces/ns/jobs");
    assert_string_equal(
        request_at(f, 0)->query,
        "limit=2&labelSelector=app=mason,tier in (a,b)&fieldSelector=status.phase!=Failed");
    assert_string_equal(
        request_at(f, 1)->query,
        "limit=2&labelSelector=app=mason,tier in (a,b)&fieldSelector=status.phase!=Failed&continue=tok/1 +");
    assert_non_null(strstr(request_at(f, 2)->query, "&continue=tok2"));
    json_decref(items);
    free(rv);
}

static void kube_list_core_all_namespaces(void **state)
{
    struct fixture *f = *state;
    json_t *items = NULL;

    stub_script(&f->stub, (struct stub_reply){200, "{\"metadata\":{},\"items\":[{\"metadata\":"
                                                   "{\"name\":\"p\",\"namespace\":\"x\"}}]}"});
    assert_int_equal(mason_kube_list(f->kube, &MASON_KUBE_PODS, NULL, NULL, &items, NULL, &f->err),
                     0);
    assert_int_equal(json_array_size(items), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(items, 0), "apiVersion")),
                        "v1");
    assert_string_equal(request_at(f, 0)->path, "/api/v1/pods");
    assert_string_equal(request_at(f, 0)->query, "limit=500");
    json_decref(items);
}

static void kube_list_expired_continue_gone(void **state)
{
    struct fixture *f = *state;
    json_t *items = NULL;
    char *rv = NULL;

    stub_script(&f->stub, (struct stub_reply){200, "{\"metadata\":{\"continue\":\"old\"},"
                                                   "\"items\":[{\"metadata\":{\"name\":\"a\"}}]}"});
    stub_script(&f->stub, (struct stub_reply){
                              410, "{\"kind\":\"Status\",\"reason\":\"Expired\",\"message\":"
                                   "\"The provided continue parameter is too old\",\"code\":410}"});
    assert_int_equal(mason_kube_list(f->kube, &MASON_KUBE_JOBS, "ns", NULL, &items, &rv, &f->err),
                     MASON_EGONE);
    assert_null(items);
    assert_null(rv);
    assert_string_equal(mason_buf_str(&f->err), "The provided continue parameter is too old");
}

struct status_case {
    int http_status;
    const char *body;
    int expected;
    const char *message;
};

static void kube_maps_error_statuses(void **state)
{
    static const struct status_case cases[] = {
        {404,
         "{\"kind\":\"Status\",\"reason\":\"NotFound\",\"message\":\"jobs.batch \\\"j\\\" not "
         "found\",\"code\":404}",
         MASON_ENOTFOUND, "jobs.batch \"j\" not found"},
        {409, "{\"kind\":\"Status\",\"reason\":\"AlreadyExists\",\"message\":\"exists\"}",
         MASON_EEXISTS, "exists"},
        {409, "{\"kind\":\"Status\",\"reason\":\"Conflict\",\"message\":\"modified\"}",
         MASON_ECONFLICT, "modified"},
        {410, "{\"kind\":\"Status\",\"reason\":\"Expired\",\"message\":\"too old\"}", MASON_EGONE,
         "too old"},
        {422,
         "{\"kind\":\"Status\",\"reason\":\"Invalid\",\"message\":\"AgentTask.mason.dev \\\"t\\\" "
         "is invalid: spec.prompt: Required value\"}",
         MASON_EINVALID_OBJECT,
         "AgentTask.mason.dev \"t\" is invalid: spec.prompt: Required value"},
        {400, "{\"kind\":\"Status\",\"reason\":\"BadRequest\",\"message\":\"bad\"}",
         MASON_EINVALID_OBJECT, "bad"},
        {401, "{\"kind\":\"Status\",\"reason\":\"Unauthorized\",\"message\":\"Unauthorized\"}",
         MASON_EUNAUTHORIZED, "Unauthorized"},
        {403, "{\"kind\":\"Status\",\"reason\":\"Forbidden\",\"message\":\"no access\"}",
         MASON_EFORBIDDEN, "no access"},
        {418, "I'm a teapot", MASON_EHTTP, "HTTP status 418"},
        {404, NULL, MASON_ENOTFOUND, "HTTP status 404"},
    };
    struct fixture *f = *state;

    json_t *sentinel = json_object();

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *out = sentinel;

        stub_script(&f->stub, (struct stub_reply){cases[i].http_status, cases[i].body});
        mason_buf_reset(&f->err);
        assert_int_equal(mason_kube_get(f->kube, &MASON_KUBE_JOBS, "ns", "j", &out, &f->err),
                         cases[i].expected);
        assert_null(out);
        assert_string_equal(mason_buf_str(&f->err), cases[i].message);
    }
    /* None of these statuses is retried. */
    assert_int_equal(stub_request_count(&f->stub), sizeof(cases) / sizeof(cases[0]));
    json_decref(sentinel);
}

static void kube_status_error_without_reply(void **state)
{
    struct mason_buf err = MASON_BUF_INIT;

    (void)state;
    assert_int_equal(mason_kube_status_error(200, NULL, 0, &err), 0);
    assert_int_equal(err.len, 0);
    assert_int_equal(mason_kube_status_error(204, "not json", 8, NULL), 0);
    assert_int_equal(mason_kube_status_error(503, NULL, 0, &err), MASON_EUNAVAILABLE);
    assert_string_equal(mason_buf_str(&err), "HTTP status 503");
    mason_buf_reset(&err);
    assert_int_equal(mason_kube_status_error(429, "{\"message\":\"\"}", 14, &err),
                     MASON_ETHROTTLED);
    assert_string_equal(mason_buf_str(&err), "HTTP status 429");
    mason_buf_reset(&err);
    assert_int_equal(mason_kube_status_error(409, "[1,2]", 5, &err), MASON_ECONFLICT);
    assert_int_equal(mason_kube_status_error(302, "{}", 2, NULL), MASON_EHTTP);
    mason_buf_release(&err);
}

static void kube_get_rejects_non_json(void **state)
{
    struct fixture *f = *state;
    json_t *out = NULL;

    stub_script(&f->stub, (struct stub_reply){200, "<html>proxy</html>"});
    assert_int_equal(mason_kube_get(f->kube, &MASON_KUBE_PODS, "ns", "p", &out, &f->err),
                     MASON_EPARSE);
    assert_null(out);
    assert_non_null(strstr(mason_buf_str(&f->err), "not valid JSON"));
}

static void kube_retries_429_after_retry_after(void **state)
{
    struct fixture *f = *state;
    struct timespec start;

    stub_script(&f->stub, (struct stub_reply){429, "{\"kind\":\"Status\"}", "1"});
    stub_script(&f->stub, (struct stub_reply){200, "{}"});
    clock_gettime(CLOCK_MONOTONIC, &start);
    assert_int_equal(mason_kube_get(f->kube, &MASON_KUBE_PODS, "ns", "p", NULL, &f->err), 0);
    /* The backoff is 1-5 ms here, so only Retry-After explains a one-second wait. */
    assert_true(elapsed_ms(&start) >= 990);
    assert_int_equal(stub_request_count(&f->stub), 2);
}

static void kube_retries_503_with_retry_after(void **state)
{
    struct fixture *f = *state;
    struct timespec start;

    stub_script(&f->stub, (struct stub_reply){503, NULL, "1"});
    stub_script(&f->stub, (struct stub_reply){200, "{}"});
    clock_gettime(CLOCK_MONOTONIC, &start);
    assert_int_equal(mason_kube_get(f->kube, &MASON_KUBE_PODS, "ns", "p", NULL, &f->err), 0);
    assert_true(elapsed_ms(&start) >= 990);
    assert_int_equal(stub_request_count(&f->stub), 2);
}

static void kube_retry_after_http_date(void **state)
{
    struct fixture *f = *state;
    struct timespec start;

    /* With a 2 s backoff, a quick retry shows that the past date was read as "now". */
    mason_kube_set_backoff(f->kube, 2000, 2000);
    stub_script(&f->stub, (struct stub_reply){429, NULL, "Wed, 21 Oct 2015 07:28:00 GMT"});
    clock_gettime(CLOCK_MONOTONIC, &start);
    assert_int_equal(mason_kube_get(f->kube, &MASON_KUBE_PODS, "ns", "p", NULL, &f->err), 0);
    assert_true(elapsed_ms(&start) < 900);
    assert_int_equal(stub_request_count(&f->stub), 2);
}

static void kube_retries_5xx_with_backoff(void **state)
{
    struct fixture *f = *state;
    struct timespec start;

    mason_kube_set_backoff(f->kube, 40, 80);
    stub_script(&f->stub, (struct stub_reply){503, NULL});
    stub_script(&f->stub, (struct stub_reply){500, "{\"kind\":\"Status\",\"message\":\"etcd\"}"});
    stub_script(&f->stub, (struct stub_reply){200, "{\"kind\":\"Pod\"}"});
    clock_gettime(CLOCK_MONOTONIC, &start);
    assert_int_equal(mason_kube_get(f->kube, &MASON_KUBE_PODS, "ns", "p", NULL, &f->err), 0);
    /* Delays are jittered within [d/2, d]: at least 20 ms, then at least 40 ms. */
    assert_true(elapsed_ms(&start) >= 60);
    assert_int_equal(stub_request_count(&f->stub), 3);
    assert_int_equal(f->err.len, 0);
}

static void kube_gives_up_after_retries(void **state)
{
    struct fixture *f = *state;

    mason_kube_set_retries(f->kube, 2);
    for (int i = 0; i < 4; i++)
        stub_script(&f->stub, (struct stub_reply){500, "{\"message\":\"internal error\"}"});
    assert_int_equal(mason_kube_get(f->kube, &MASON_KUBE_PODS, "ns", "p", NULL, &f->err),
                     MASON_EUNAVAILABLE);
    assert_int_equal(stub_request_count(&f->stub), 3);
    assert_string_equal(mason_buf_str(&f->err), "internal error");

    stub_script(&f->stub, (struct stub_reply){429, NULL});
    stub_script(&f->stub, (struct stub_reply){429, NULL});
    stub_script(&f->stub, (struct stub_reply){429, NULL});
    mason_buf_reset(&f->err);
    assert_int_equal(mason_kube_get(f->kube, &MASON_KUBE_PODS, "ns", "p", NULL, &f->err),
                     MASON_ETHROTTLED);
    assert_int_equal(stub_request_count(&f->stub), 6);
}

static void kube_post_not_retried_on_500(void **state)
{
    struct fixture *f = *state;
    json_t *obj = json_pack("{s:s}", "kind", "Job");

    /* Once the script is used up the stub replies 200, so a retry would succeed. */
    stub_script(&f->stub, (struct stub_reply){500, NULL});
    assert_int_equal(mason_kube_create_object(f->kube, &MASON_KUBE_JOBS, "ns", obj, NULL, &f->err),
                     MASON_EUNAVAILABLE);
    assert_int_equal(stub_request_count(&f->stub), 1);

    /* On 429 the server did not act, so even a POST is sent again. */
    stub_script(&f->stub, (struct stub_reply){429, NULL});
    stub_script(&f->stub, (struct stub_reply){201, "{}"});
    assert_int_equal(mason_kube_create_object(f->kube, &MASON_KUBE_JOBS, "ns", obj, NULL, &f->err),
                     0);
    assert_int_equal(stub_request_count(&f->stub), 3);
    json_decref(obj);
}

static void kube_json_patch_not_retried_on_500(void **state)
{
    struct fixture *f = *state;
    json_t *ops = json_pack("[{s:s, s:s, s:i}]", "op", "add", "path", "/a/-", "value", 1);

    stub_script(&f->stub, (struct stub_reply){502, NULL});
    assert_int_equal(mason_kube_patch(f->kube, &MASON_KUBE_JOBS, "ns", "j", NULL,
                                      MASON_KUBE_PATCH_JSON, ops, NULL, NULL, &f->err),
                     MASON_EUNAVAILABLE);
    assert_int_equal(stub_request_count(&f->stub), 1);

    /* A merge patch sets fields to fixed values, so it is safe to repeat. */
    stub_script(&f->stub, (struct stub_reply){502, NULL});
    assert_int_equal(mason_kube_patch(f->kube, &MASON_KUBE_JOBS, "ns", "j", NULL,
                                      MASON_KUBE_PATCH_MERGE, ops, NULL, NULL, &f->err),
                     0);
    assert_int_equal(stub_request_count(&f->stub), 3);
    json_decref(ops);
}

static void kube_request_times_out(void **state)
{
    struct fixture *f = *state;
    struct timespec start;

    mason_kube_set_timeout(f->kube, 200);
    stub_script(&f->stub, (struct stub_reply){200, "{}", NULL, 1500});
    clock_gettime(CLOCK_MONOTONIC, &start);
    assert_int_equal(mason_kube_get(f->kube, &MASON_KUBE_PODS, "ns", "slow", NULL, &f->err),
                     MASON_ETIMEOUT);
    assert_true(elapsed_ms(&start) < 1400);
    assert_int_equal(stub_request_count(&f->stub), 1);
    assert_non_null(strstr(mason_buf_str(&f->err), "GET /api/v1/namespaces/ns/pods/slow"));
}

static void kube_connection_refused(void **state)
{
    struct stub closed;
    struct mason_kube *kube;
    struct mason_buf err = MASON_BUF_INIT;
    json_t *obj = json_object();

    (void)state;
    /* The stub's port is free again once it stops, so nothing listens there. */
    assert_int_equal(stub_start(&closed), 0);
    stub_stop(&closed);
    kube = client_for(&closed, "t", NULL);
    mason_kube_set_retries(kube, 2);
    assert_int_equal(mason_kube_get(kube, &MASON_KUBE_PODS, "ns", "p", NULL, &err), MASON_ECONNECT);
    assert_non_null(strstr(mason_buf_str(&err), "GET /api/v1/namespaces/ns/pods/p: "));
    mason_buf_reset(&err);
    assert_int_equal(mason_kube_create_object(kube, &MASON_KUBE_PODS, "ns", obj, NULL, &err),
                     MASON_ECONNECT);
    assert_true(err.len > 0);
    mason_kube_free(kube);
    mason_buf_release(&err);
    json_decref(obj);
}

static void kube_get_raw_caps_reply(void **state)
{
    struct fixture *f = *state;
    struct mason_buf out;

    mason_buf_init(&out, 16);
    stub_script(&f->stub, (struct stub_reply){200, "line one\nline two\n"});
    assert_int_equal(
        mason_kube_get_raw(f->kube, "/api/v1/namespaces/ns/pods/p/log?container=c", &out, &f->err),
        MASON_ETOOBIG);
    assert_int_equal(out.len, 0);
    assert_non_null(strstr(mason_buf_str(&f->err), "larger than 16 bytes"));
    mason_buf_release(&out);

    mason_buf_init(&out, 0);
    stub_script(&f->stub, (struct stub_reply){200, "line one\n"});
    assert_int_equal(
        mason_kube_get_raw(f->kube, "/api/v1/namespaces/ns/pods/p/log?container=c", &out, &f->err),
        0);
    assert_string_equal(mason_buf_str(&out), "line one\n");
    assert_string_equal(request_at(f, 1)->query, "container=c");
    stub_script(&f->stub, (struct stub_reply){404, "{\"message\":\"pods \\\"p\\\" not found\"}"});
    assert_int_equal(mason_kube_get_raw(f->kube, "/api/v1/namespaces/ns/pods/p/log", &out, &f->err),
                     MASON_ENOTFOUND);
    assert_int_equal(out.len, 0);
    mason_buf_release(&out);
}

static void write_text(const char *path, const char *text)
{
    FILE *file = fopen(path, "w");

    assert_non_null(file);
    fputs(text, file);
    fclose(file);
}

static void kube_rereads_token_file_on_401(void **state)
{
    struct fixture *f = *state;
    char path[] = "/tmp/mason-token-XXXXXX";
    struct mason_kube *kube;
    int fd = mkstemp(path);

    assert_true(fd >= 0);
    close(fd);
    write_text(path, "first-token\n");
    kube = client_for(&f->stub, "first-token", path);
    write_text(path, "rotated-token\n");
    stub_script(&f->stub, (struct stub_reply){401, "{\"message\":\"Unauthorized\"}"});
    stub_script(&f->stub, (struct stub_reply){200, "{}"});
    assert_int_equal(mason_kube_get(kube, &MASON_KUBE_PODS, "ns", "p", NULL, &f->err), 0);
    assert_string_equal(request_at(f, 0)->authorization, "Bearer first-token");
    assert_string_equal(request_at(f, 1)->authorization, "Bearer rotated-token");

    /* A second 401 with the fresh token is final. */
    stub_script(&f->stub, (struct stub_reply){401, "{\"message\":\"Unauthorized\"}"});
    stub_script(&f->stub, (struct stub_reply){401, "{\"message\":\"Unauthorized\"}"});
    stub_script(&f->stub, (struct stub_reply){200, "{}"});
    assert_int_equal(mason_kube_get(kube, &MASON_KUBE_PODS, "ns", "p", NULL, &f->err),
                     MASON_EUNAUTHORIZED);
    assert_int_equal(stub_request_count(&f->stub), 4);
    mason_kube_free(kube);
    unlink(path);
}

static size_t discard(char *data, size_t size, size_t n, void *arg)
{
    (void)data;
    (void)arg;
    return size * n;
}

static void kube_rereads_token_file_after_a_minute(void **state)
{
    struct fixture *f = *state;
    char path[] = "/tmp/mason-token-XXXXXX";
    struct mason_kube *kube;
    int fd = mkstemp(path);

    assert_true(fd >= 0);
    close(fd);
    write_text(path, "first-token\n");
    kube = client_for(&f->stub, "first-token", path);
    write_text(path, "rotated-token\n");
    assert_int_equal(mason_kube_get(kube, &MASON_KUBE_PODS, "ns", "p", NULL, &f->err), 0);
    assert_string_equal(request_at(f, 0)->authorization, "Bearer first-token");
    kube_token_mark_stale(kube);
    assert_int_equal(mason_kube_get(kube, &MASON_KUBE_PODS, "ns", "p", NULL, &f->err), 0);
    assert_string_equal(request_at(f, 1)->authorization, "Bearer rotated-token");

    /* An unreadable file keeps the token in use. */
    unlink(path);
    kube_token_mark_stale(kube);
    assert_int_equal(mason_kube_get(kube, &MASON_KUBE_PODS, "ns", "p", NULL, &f->err), 0);
    assert_string_equal(request_at(f, 2)->authorization, "Bearer rotated-token");
    mason_kube_free(kube);
}

static void kube_curl_handle_authenticates(void **state)
{
    struct fixture *f = *state;
    struct curl_slist *headers = NULL;
    CURL *c =
        mason_kube_curl_handle(f->kube, "/api/v1/namespaces/ns/pods/p/log?follow=true", &headers);
    long status = 0;

    assert_non_null(c);
    assert_non_null(headers);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    assert_int_equal(curl_easy_perform(c), CURLE_OK);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    assert_int_equal(status, 200);
    assert_string_equal(request_at(f, 0)->authorization, "Bearer secret-token");
    assert_string_equal(request_at(f, 0)->query, "follow=true");
    curl_easy_cleanup(c);
    curl_slist_free_all(headers);
}

static void kube_rejects_bad_arguments(void **state)
{
    struct fixture *f = *state;
    struct mason_kube_config empty;
    json_t *obj = json_object(), *out = obj;

    mason_kube_config_init(&empty);
    assert_null(mason_kube_create(&empty));
    assert_null(mason_kube_create(NULL));
    assert_int_equal(mason_kube_get(f->kube, &MASON_KUBE_PODS, "ns", NULL, &out, &f->err),
                     MASON_EINVAL);
    assert_null(out);
    assert_int_equal(
        mason_kube_update(f->kube, &MASON_KUBE_PODS, "ns", "..", NULL, obj, NULL, &f->err),
        MASON_EINVAL);
    assert_int_equal(mason_kube_delete(f->kube, &MASON_KUBE_PODS, "ns", NULL, NULL, &f->err),
                     MASON_EINVAL);
    assert_int_equal(stub_request_count(&f->stub), 0);
    json_decref(obj);
}

#define KUBE_TEST(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(kube_path_core_and_groups),
        cmocka_unit_test(kube_path_escapes_segments),
        KUBE_TEST(kube_get_sends_bearer_token),
        KUBE_TEST(kube_get_without_token_sends_none),
        KUBE_TEST(kube_create_posts_json),
        KUBE_TEST(kube_update_status_subresource),
        KUBE_TEST(kube_patch_content_types),
        KUBE_TEST(kube_apply_needs_field_manager),
        KUBE_TEST(kube_delete_sends_propagation),
        KUBE_TEST(kube_list_follows_continue),
        KUBE_TEST(kube_list_core_all_namespaces),
        KUBE_TEST(kube_list_expired_continue_gone),
        KUBE_TEST(kube_maps_error_statuses),
        cmocka_unit_test(kube_status_error_without_reply),
        KUBE_TEST(kube_get_rejects_non_json),
        KUBE_TEST(kube_retries_429_after_retry_after),
        KUBE_TEST(kube_retries_503_with_retry_after),
        KUBE_TEST(kube_retry_after_http_date),
        KUBE_TEST(kube_retries_5xx_with_backoff),
        KUBE_TEST(kube_gives_up_after_retries),
        KUBE_TEST(kube_post_not_retried_on_500),
        KUBE_TEST(kube_json_patch_not_retried_on_500),
        KUBE_TEST(kube_request_times_out),
        cmocka_unit_test(kube_connection_refused),
        KUBE_TEST(kube_get_raw_caps_reply),
        KUBE_TEST(kube_rereads_token_file_on_401),
        KUBE_TEST(kube_rereads_token_file_after_a_minute),
        KUBE_TEST(kube_curl_handle_authenticates),
        KUBE_TEST(kube_rejects_bad_arguments),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
