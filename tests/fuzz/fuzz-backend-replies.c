/*
 * Fuzzes the parsers of secret backend replies: STS credentials and errors
 * (XML), AWS timestamps, the Secrets Manager GetSecretValue reply, and Vault
 * login, KV v2 and error replies (JSON). The first input byte picks the
 * parser, the rest is the reply.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aws.h"
#include "buf.h"
#include "vault.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void sts_replies(const char *text, size_t len)
{
    struct mason_aws_credentials creds = {0};
    struct mason_buf code = MASON_BUF_INIT, message = MASON_BUF_INIT;

    if (mason_aws_sts_parse_credentials(text, len, &creds) == 0 && !creds.access_key_id)
        abort();
    mason_aws_credentials_release(&creds);
    mason_aws_sts_parse_error(text, len, &code, &message);
    mason_buf_release(&code);
    mason_buf_release(&message);
}

static void aws_time(const char *text, size_t len)
{
    char *copy = strndup(text, len);
    time_t when;

    if (copy)
        mason_aws_parse_time(copy, &when);
    free(copy);
}

static void secrets_manager(const char *text, size_t len)
{
    struct mason_buf value = MASON_BUF_INIT, err = MASON_BUF_INIT;

    mason_aws_sm_parse_value("fuzz", text, len, &value, &err);
    mason_buf_release(&value);
    mason_buf_release(&err);
}

static void vault_replies(const char *text, size_t len)
{
    struct mason_vault_lease lease = {0};
    struct mason_buf value = MASON_BUF_INIT, errors = MASON_BUF_INIT;

    if (mason_vault_parse_auth(text, len, &lease) == 0 && !lease.token)
        abort();
    mason_vault_lease_release(&lease);
    mason_vault_parse_kv(text, len, &value);
    mason_vault_parse_errors(text, len, &errors);
    mason_buf_release(&value);
    mason_buf_release(&errors);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data + 1;

    if (size < 1)
        return 0;
    switch (data[0] % 4) {
    case 0:
        sts_replies(text, size - 1);
        break;
    case 1:
        aws_time(text, size - 1);
        break;
    case 2:
        secrets_manager(text, size - 1);
        break;
    default:
        vault_replies(text, size - 1);
        break;
    }
    return 0;
}
