/* Unit tests for the capped growable buffer and the error table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "buf.h"
#include "error.h"

static void buf_appends_and_formats(void **state)
{
    struct mason_buf b = MASON_BUF_INIT;

    (void)state;
    assert_int_equal(mason_buf_adds(&b, "job-"), 0);
    assert_int_equal(mason_buf_addf(&b, "%d-%s", 42, "x"), 0);
    assert_string_equal(mason_buf_str(&b), "job-42-x");
    assert_int_equal(b.len, 8);
    mason_buf_release(&b);
}

static void buf_rejects_growth_past_cap(void **state)
{
    struct mason_buf b;

    (void)state;
    mason_buf_init(&b, 8);
    assert_int_equal(mason_buf_adds(&b, "12345678"), 0);
    assert_int_equal(mason_buf_adds(&b, "9"), MASON_ETOOBIG);
    assert_string_equal(mason_buf_str(&b), "12345678");
    mason_buf_release(&b);
}

static void buf_consumes_prefix(void **state)
{
    struct mason_buf b = MASON_BUF_INIT;

    (void)state;
    mason_buf_adds(&b, "line1\nline2");
    mason_buf_consume(&b, 6);
    assert_string_equal(mason_buf_str(&b), "line2");
    mason_buf_consume(&b, 100);
    assert_int_equal(b.len, 0);
    mason_buf_release(&b);
}

static void error_names_and_messages(void **state)
{
    (void)state;
    assert_string_equal(mason_errname(MASON_ENOTFOUND), "NOTFOUND");
    assert_string_equal(mason_strerror(MASON_ETOOBIG), "input exceeds its size limit");
    assert_string_equal(mason_errname(0), "OK");
    assert_string_equal(mason_errname(-1), "UNKNOWN");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(buf_appends_and_formats),
        cmocka_unit_test(buf_rejects_growth_past_cap),
        cmocka_unit_test(buf_consumes_prefix),
        cmocka_unit_test(error_names_and_messages),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
