/* The AWS client: STS reply parsing, time parsing, the credential chain's configuration checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "aws.h"
#include "error.h"

static const char assume_role_reply[] =
    "<AssumeRoleResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n"
    "  <AssumeRoleResult>\n"
    "    <AssumedRoleUser><Arn>arn:aws:sts::123456789012:assumed-role/reader/s</Arn>"
    "<AssumedRoleId>ARO123:s</AssumedRoleId></AssumedRoleUser>\n"
    "    <Credentials>\n"
    "      <AccessKeyId>ASIAEXAMPLE</AccessKeyId>\n"
    "      <SecretAccessKey>se/cr+et&amp;key&lt;1&gt;</SecretAccessKey>\n"
    "      <SessionToken>FwoGZXIvYXdzE&quot;token&apos;</SessionToken>\n"
    "      <Expiration>2024-05-01T12:30:00.123Z</Expiration>\n"
    "    </Credentials>\n"
    "  </AssumeRoleResult>\n"
    "</AssumeRoleResponse>\n";

static void sts_reply_gives_credentials(void **state)
{
    struct mason_aws_credentials c;

    (void)state;
    assert_int_equal(
        mason_aws_sts_parse_credentials(assume_role_reply, strlen(assume_role_reply), &c), 0);
    assert_string_equal(c.access_key_id, "ASIAEXAMPLE");
    assert_string_equal(c.secret_access_key, "se/cr+et&key<1>");
    assert_string_equal(c.session_token, "FwoGZXIvYXdzE\"token'");
    assert_int_equal(c.expires, 1714566600);
    mason_aws_credentials_release(&c);
    assert_null(c.access_key_id);
}

static void sts_reply_missing_parts(void **state)
{
    static const char *const replies[] = {
        "",
        "<AssumeRoleResult></AssumeRoleResult>",
        "<Credentials><AccessKeyId>A</AccessKeyId></Credentials>",
        "<Credentials><AccessKeyId>A</AccessKeyId><SecretAccessKey>S</SecretAccessKey>"
        "<SessionToken>T</SessionToken></Credentials>",
        "<Credentials><AccessKeyId>A</AccessKeyId><SecretAccessKey>S</SecretAccessKey>"
        "<SessionToken>T</SessionToken><Expiration>tomorrow</Expiration></Credentials>",
        "<Credentials><AccessKeyId></AccessKeyId><SecretAccessKey>S</SecretAccessKey>"
        "<SessionToken>T</SessionToken><Expiration>2024-05-01T12:30:00Z</Expiration>"
        "</Credentials>",
        /* The elements must be inside Credentials. */
        "<AccessKeyId>A</AccessKeyId><Credentials></Credentials>",
        "<Credentials><AccessKeyId>A",
    };

    (void)state;
    for (size_t i = 0; i < sizeof(replies) / sizeof(replies[0]); i++) {
        struct mason_aws_credentials c;
        int rc = mason_aws_sts_parse_credentials(replies[i], strlen(replies[i]), &c);

        if (rc != MASON_EPARSE)
            fail_msg("reply %zu: got %d, expected MASON_EPARSE", i, rc);
        assert_null(c.access_key_id);
        assert_null(c.secret_access_key);
    }
}

static void sts_error_reply(void **state)
{
    const char *xml = "<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code>"
                      "<Message>User is not authorized to perform: sts:AssumeRole &amp; more"
                      "</Message></Error><RequestId>r-1</RequestId></ErrorResponse>";
    struct mason_buf code = MASON_BUF_INIT, message = MASON_BUF_INIT;

    (void)state;
    assert_int_equal(mason_aws_sts_parse_error(xml, strlen(xml), &code, &message), 0);
    assert_string_equal(mason_buf_str(&code), "AccessDenied");
    assert_string_equal(mason_buf_str(&message),
                        "User is not authorized to perform: sts:AssumeRole & more");
    mason_buf_reset(&code);
    assert_int_equal(mason_aws_sts_parse_error("{}", 2, &code, &message), MASON_EPARSE);
    assert_int_equal(code.len, 0);
    mason_buf_release(&code);
    mason_buf_release(&message);
}

static void time_forms(void **state)
{
    time_t t = 5;

    (void)state;
    assert_int_equal(mason_aws_parse_time("1970-01-01T00:00:00Z", &t), 0);
    assert_int_equal(t, 0);
    assert_int_equal(mason_aws_parse_time("2024-05-01T12:30:00Z", &t), 0);
    assert_int_equal(t, 1714566600);
    assert_int_equal(mason_aws_parse_time("2024-05-01T12:30:00.5Z", &t), 0);
    assert_int_equal(t, 1714566600);
    assert_int_equal(mason_aws_parse_time("2024-05-01T12:30:00+00:00", &t), 0);
    assert_int_equal(mason_aws_parse_time("2024-05-01T12:30:00+02:00", &t), MASON_EPARSE);
    assert_int_equal(mason_aws_parse_time("2024-05-01T12:30:00", &t), MASON_EPARSE);
    assert_int_equal(mason_aws_parse_time("2024-05-01", &t), MASON_EPARSE);
    assert_int_equal(mason_aws_parse_time("", &t), MASON_EPARSE);
}

struct auth_case {
    struct mason_aws_auth_config cfg;
    const char *message;
};

static void auth_config_errors(void **state)
{
    static const struct auth_case cases[] = {
        {{NULL, NULL, NULL, "AKID", "secret"}, "no AWS region"},
        {{"us-east-1", NULL, NULL, "AKID", NULL}, "AWS_SECRET_ACCESS_KEY is not"},
        {{"us-east-1"}, "no AWS credentials"},
        {{"us-east-1", NULL, NULL, NULL, NULL, NULL, "arn:aws:iam::1:role/r"},
         "no AWS credentials"},
        {{"us-east-1", NULL, NULL, NULL, NULL, NULL, "arn:aws:iam::1:role/r", "/token"},
         "config.sts_endpoint is missing"},
        {{"us-east-1", NULL, "arn:aws:iam::1:role/r", "AKID", "secret"},
         "config.sts_endpoint is missing"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct mason_buf err = MASON_BUF_INIT;
        struct mason_aws_auth *auth = mason_aws_auth_create(&cases[i].cfg, &err);

        if (auth)
            fail_msg("case %zu: created a credential chain", i);
        if (!strstr(mason_buf_str(&err), cases[i].message))
            fail_msg("case %zu: error \"%s\" does not contain \"%s\"", i, mason_buf_str(&err),
                     cases[i].message);
        mason_buf_release(&err);
    }
}

static void static_keys_need_no_sts(void **state)
{
    struct mason_aws_auth_config cfg = {"eu-west-1", NULL, NULL, "AKIDSTATIC", "s3cret", "tok"};
    struct mason_buf err = MASON_BUF_INIT, who = MASON_BUF_INIT;
    struct mason_aws_auth *auth = mason_aws_auth_create(&cfg, &err);
    struct mason_aws_credentials c;

    (void)state;
    assert_non_null(auth);
    assert_int_equal(mason_aws_auth_get(auth, &c, &err), 0);
    assert_string_equal(c.access_key_id, "AKIDSTATIC");
    assert_string_equal(c.secret_access_key, "s3cret");
    assert_string_equal(c.session_token, "tok");
    assert_int_equal(c.expires, 0);
    mason_aws_credentials_release(&c);
    mason_aws_auth_invalidate(auth);
    assert_int_equal(mason_aws_auth_get(auth, &c, &err), 0);
    assert_string_equal(c.access_key_id, "AKIDSTATIC");
    mason_aws_credentials_release(&c);
    assert_int_equal(mason_aws_auth_sts_calls(auth), 0);
    assert_int_equal(mason_aws_auth_describe(auth, &who), 0);
    assert_string_equal(mason_buf_str(&who), "access key AKIDSTATIC");
    mason_aws_auth_free(auth);
    mason_aws_auth_free(NULL);
    mason_buf_release(&err);
    mason_buf_release(&who);
}

static void web_identity_token_file_missing(void **state)
{
    struct mason_aws_auth_config cfg = {"eu-west-1", "http://127.0.0.1:9"};
    struct mason_buf err = MASON_BUF_INIT, who = MASON_BUF_INIT;
    struct mason_aws_credentials c;
    struct mason_aws_auth *auth;

    (void)state;
    cfg.web_identity_role_arn = "arn:aws:iam::123456789012:role/mason";
    cfg.web_identity_token_file = "/nonexistent/mason/token";
    auth = mason_aws_auth_create(&cfg, &err);
    assert_non_null(auth);
    assert_int_equal(mason_aws_auth_get(auth, &c, &err), MASON_EIO);
    assert_non_null(strstr(mason_buf_str(&err), "/nonexistent/mason/token"));
    assert_null(c.access_key_id);
    assert_int_equal(mason_aws_auth_sts_calls(auth), 0);
    assert_int_equal(mason_aws_auth_describe(auth, &who), 0);
    assert_string_equal(mason_buf_str(&who), "role arn:aws:iam::123456789012:role/mason");
    mason_aws_auth_free(auth);
    mason_buf_release(&err);
    mason_buf_release(&who);
}

/* Returns a loopback port that nothing listens on (bound, then closed). */
static int closed_port(void)
{
    struct sockaddr_in addr = {.sin_family = AF_INET};
    socklen_t len = sizeof(addr);
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    assert_true(fd >= 0);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&addr, &len), 0);
    close(fd);
    return ntohs(addr.sin_port);
}

static void send_reports_connection_failure(void **state)
{
    struct mason_aws_credentials c = {(char *)"AKID", (char *)"secret", NULL, 0};
    struct mason_buf url = MASON_BUF_INIT, err = MASON_BUF_INIT, reply = MASON_BUF_INIT;
    struct mason_aws_request req = {NULL, "us-east-1", "secretsmanager", "application/json"};
    long status = -1;

    (void)state;
    mason_buf_addf(&url, "http://127.0.0.1:%d/", closed_port());
    req.endpoint = mason_buf_str(&url);
    req.body = "{}";
    req.body_len = 2;
    assert_int_equal(mason_aws_send(&req, &c, &status, &reply, &err), MASON_ECONNECT);
    assert_int_equal(status, 0);
    assert_non_null(strstr(mason_buf_str(&err), mason_buf_str(&url)));
    mason_buf_reset(&err);
    req.endpoint = "not a url";
    assert_int_equal(mason_aws_send(&req, &c, &status, &reply, &err), MASON_ECONFIG);
    assert_non_null(strstr(mason_buf_str(&err), "endpoint \"not a url\" is not a valid URL"));
    mason_buf_release(&url);
    mason_buf_release(&err);
    mason_buf_release(&reply);
}

static void backend_create_errors(void **state)
{
    struct mason_secret_backend_config cfg = {.scheme = (char *)"aws-sm",
                                              .kind = MASON_SECRET_BACKEND_AWS_SM};
    struct mason_buf err = MASON_BUF_INIT;
    struct mason_secret_backend *b;

    (void)state;
    unsetenv("AWS_REGION");
    unsetenv("AWS_DEFAULT_REGION");
    setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "secret", 1);
    assert_null(mason_secrets_aws_backend_create(&cfg, &err));
    assert_non_null(strstr(mason_buf_str(&err), "config.endpoint is missing"));
    mason_buf_reset(&err);
    cfg.endpoint = (char *)"http://127.0.0.1:9";
    assert_null(mason_secrets_aws_backend_create(&cfg, &err));
    assert_non_null(strstr(mason_buf_str(&err), "no AWS region"));
    assert_non_null(strstr(mason_buf_str(&err), "(backend aws-sm)"));
    mason_buf_reset(&err);
    setenv("AWS_DEFAULT_REGION", "eu-central-1", 1);
    b = mason_secrets_aws_backend_create(&cfg, &err);
    assert_non_null(b);
    assert_non_null(mason_aws_backend_auth(b));
    b->destroy(b);
    unsetenv("AWS_DEFAULT_REGION");
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    mason_buf_release(&err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sts_reply_gives_credentials),
        cmocka_unit_test(sts_reply_missing_parts),
        cmocka_unit_test(sts_error_reply),
        cmocka_unit_test(time_forms),
        cmocka_unit_test(auth_config_errors),
        cmocka_unit_test(static_keys_need_no_sts),
        cmocka_unit_test(web_identity_token_file_missing),
        cmocka_unit_test(send_reports_connection_failure),
        cmocka_unit_test(backend_create_errors),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
