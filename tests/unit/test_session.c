/* Unit tests for session persistence: the plan, mounts, status and expiry. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "config.h"
#include "jobspec.h"
#include "session.h"
#include "session_sweep.h"
#include "task.h"

struct fixture {
    struct mason_config *cfg;
    json_t *obj;
    struct mason_task task;
};

static struct fixture *load(const char *persistence, int workspace)
{
    static struct fixture f;
    struct mason_buf err = MASON_BUF_INIT;
    const char *text = "engines:\n  claude-code:\n    image: r/c:1\n";

    memset(&f, 0, sizeof(f));
    assert_int_equal(mason_config_parse(text, strlen(text), &f.cfg, &err), 0);
    f.obj = json_pack("{s:{s:s, s:s, s:s}, s:{s:s, s:{s:s, s:b}}}", "metadata", "name", "t1",
                      "namespace", "ns", "uid", "u-1", "spec", "prompt", "p", "session",
                      "persistence", persistence, "persistWorkspace", workspace);
    assert_int_equal(mason_task_view(&f.task, f.obj, f.cfg, &err), 0);
    mason_buf_release(&err);
    return &f;
}

static void unload(struct fixture *f)
{
    json_decref(f->obj);
    mason_config_free(f->cfg);
}

/* Builds the run's Job and mounts the session, as the reconciler does. */
static json_t *pod_with_session(struct fixture *f, struct mason_session_plan *plan)
{
    struct mason_run_spec run = {.index = 0, .job_name = "j", .prompt = "p"};
    struct mason_buf err = MASON_BUF_INIT;
    json_t *job = mason_jobspec_job(&f->task, f->cfg, &run, &err);
    json_t *pod =
        json_object_get(json_object_get(json_object_get(job, "spec"), "template"), "spec");

    mason_session_mount(pod, &f->task, plan);
    json_incref(pod);
    json_decref(job);
    mason_buf_release(&err);
    return pod;
}

static int count_claim_volumes(json_t *pod)
{
    size_t i;
    json_t *v;
    int n = 0;

    json_array_foreach(json_object_get(pod, "volumes"), i, v) n +=
        json_object_get(v, "persistentVolumeClaim") != NULL;
    return n;
}

/* Returns the subPath of the mount at path, "" when it has none, or NULL when no mount is. */
static const char *mount_sub_path(json_t *pod, const char *path)
{
    json_t *container = json_array_get(json_object_get(pod, "containers"), 0);
    size_t i;
    json_t *m;

    json_array_foreach(json_object_get(container, "volumeMounts"), i, m)
    {
        if (strcmp(json_string_value(json_object_get(m, "mountPath")), path) == 0) {
            const char *sub = json_string_value(json_object_get(m, "subPath"));

            return sub ? sub : "";
        }
    }
    return NULL;
}

static void per_task_claim_mounts_once(void **state)
{
    struct fixture *f = load("per-taskrun-pvc", 1);
    struct mason_session_plan plan;
    json_t *pod;

    (void)state;
    mason_session_plan_init(&plan, &f->task, f->cfg);
    assert_true(plan.enabled);
    assert_true(plan.per_task_claim);
    assert_string_equal(mason_buf_str(&plan.claim), mason_buf_str(&plan.name));
    pod = pod_with_session(f, &plan);
    assert_int_equal(count_claim_volumes(pod), 1);
    /* The workspace emptyDir gives way to the claim. */
    assert_string_equal(mount_sub_path(pod, "/workspace"), "workspace");
    assert_string_equal(mount_sub_path(pod, "/home/agent/.claude"), "conversations");
    json_decref(pod);
    mason_session_plan_release(&plan);
    unload(f);
}

static void shared_claim_uses_task_directory(void **state)
{
    struct fixture *f = load("shared-pvc", 0);
    struct mason_session_plan plan;
    json_t *claim, *pod, *mount;
    size_t i;
    int found = 0;

    (void)state;
    mason_session_plan_init(&plan, &f->task, f->cfg);
    assert_false(plan.per_task_claim);
    assert_string_equal(mason_buf_str(&plan.claim), "mason-sessions");
    assert_string_equal(mason_buf_str(&plan.sub_path), mason_buf_str(&plan.name));
    claim = mason_session_claim(&f->task, f->cfg, &plan, "");
    assert_string_equal(json_string_value(json_array_get(
                            json_object_get(json_object_get(claim, "spec"), "accessModes"), 0)),
                        "ReadWriteMany");
    pod = pod_with_session(f, &plan);
    json_array_foreach(
        json_object_get(json_array_get(json_object_get(pod, "containers"), 0), "volumeMounts"), i,
        mount)
    {
        const char *sub = json_string_value(json_object_get(mount, "subPath"));

        if (sub) {
            assert_int_equal(strncmp(sub, mason_buf_str(&plan.name), plan.name.len), 0);
            found++;
        }
    }
    assert_int_equal(found, 1);
    json_decref(claim);
    json_decref(pod);
    mason_session_plan_release(&plan);
    unload(f);
}

static void no_persistence_adds_nothing(void **state)
{
    struct fixture *f = load("none", 0);
    struct mason_session_plan plan;
    json_t *pod;

    (void)state;
    mason_session_plan_init(&plan, &f->task, f->cfg);
    assert_false(plan.enabled);
    pod = pod_with_session(f, &plan);
    assert_int_equal(count_claim_volumes(pod), 0);
    json_decref(pod);
    mason_session_plan_release(&plan);
    unload(f);
}

static void session_expires_after_last_use(void **state)
{
    json_t *session = json_pack("{s:{s:i}, s:{s:s}}", "spec", "ttlSeconds", 3600, "status",
                                "lastUsed", "2026-12-04T10:00:00Z");
    json_t *done = json_pack("{s:{s:s}}", "status", "phase", "Succeeded");
    json_t *waiting = json_pack("{s:{s:s}}", "status", "phase", "AwaitingApproval");
    time_t used = 1796378400; /* 2026-12-04T10:00:00Z */

    (void)state;
    assert_false(mason_session_expired(session, done, used + 3599, 60));
    assert_true(mason_session_expired(session, done, used + 3601, 60));
    assert_true(mason_session_expired(session, NULL, used + 3601, 60));
    assert_false(mason_session_expired(session, waiting, used + 999999, 60));
    json_object_del(json_object_get(session, "spec"), "ttlSeconds");
    assert_true(mason_session_expired(session, done, used + 61, 60));
    json_object_del(json_object_get(session, "status"), "lastUsed");
    assert_false(mason_session_expired(session, done, used + 999999, 60));
    json_decref(session);
    json_decref(done);
    json_decref(waiting);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(per_task_claim_mounts_once),
        cmocka_unit_test(shared_claim_uses_task_directory),
        cmocka_unit_test(no_persistence_adds_nothing),
        cmocka_unit_test(session_expires_after_last_use),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
