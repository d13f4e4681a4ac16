/* Unit tests for the YAML to JSON conversion (YAML 1.2 core schema). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "error.h"
#include "yaml.h"

static json_t *convert(const char *text)
{
    json_t *out = NULL;

    assert_int_equal(mason_yaml_to_json(text, strlen(text), &out, NULL), 0);
    assert_non_null(out);
    return out;
}

static void yaml_resolves_core_schema_scalars(void **state)
{
    json_t *v = convert("a: true\nb: False\nc: null\nd: ~\ne:\nf: 42\ng: -7\nh: 0x1f\n"
                        "i: 0o17\nj: 1.5\nk: 1e3\nl: hello\nm: yes\nn: .inf\no: 0.5.1\n");

    (void)state;
    assert_true(json_is_true(json_object_get(v, "a")));
    assert_true(json_is_false(json_object_get(v, "b")));
    assert_true(json_is_null(json_object_get(v, "c")));
    assert_true(json_is_null(json_object_get(v, "d")));
    assert_true(json_is_null(json_object_get(v, "e")));
    assert_int_equal(json_integer_value(json_object_get(v, "f")), 42);
    assert_int_equal(json_integer_value(json_object_get(v, "g")), -7);
    assert_int_equal(json_integer_value(json_object_get(v, "h")), 31);
    assert_int_equal(json_integer_value(json_object_get(v, "i")), 15);
    assert_true(json_real_value(json_object_get(v, "j")) == 1.5);
    assert_true(json_real_value(json_object_get(v, "k")) == 1000.0);
    assert_string_equal(json_string_value(json_object_get(v, "l")), "hello");
    assert_string_equal(json_string_value(json_object_get(v, "m")), "yes"); /* YAML 1.1 only */
    assert_string_equal(json_string_value(json_object_get(v, "n")), ".inf");
    assert_string_equal(json_string_value(json_object_get(v, "o")), "0.5.1");
    json_decref(v);
}

static void yaml_keeps_quoted_scalars_strings(void **state)
{
    json_t *v = convert("a: \"true\"\nb: '42'\nc: !!str 7\nd: |\n  line1\n  line2\n");

    (void)state;
    assert_string_equal(json_string_value(json_object_get(v, "a")), "true");
    assert_string_equal(json_string_value(json_object_get(v, "b")), "42");
    assert_string_equal(json_string_value(json_object_get(v, "c")), "7");
    assert_string_equal(json_string_value(json_object_get(v, "d")), "line1\nline2\n");
    json_decref(v);
}

static void yaml_keeps_huge_integer_as_string(void **state)
{
    json_t *v = convert("n: 123456789012345678901234567890\n");

    (void)state;
    assert_string_equal(json_string_value(json_object_get(v, "n")),
                        "123456789012345678901234567890");
    json_decref(v);
}

static void yaml_converts_nested_collections(void **state)
{
    json_t *v =
        convert("spec:\n  containers:\n  - name: a\n    args: [x, 'y', 3]\n  - {name: b}\n");
    json_t *containers = json_object_get(json_object_get(v, "spec"), "containers");
    json_t *args = json_object_get(json_array_get(containers, 0), "args");

    (void)state;
    assert_int_equal(json_array_size(containers), 2);
    assert_string_equal(json_string_value(json_array_get(args, 0)), "x");
    assert_string_equal(json_string_value(json_array_get(args, 1)), "y");
    assert_int_equal(json_integer_value(json_array_get(args, 2)), 3);
    assert_string_equal(json_string_value(json_object_get(json_array_get(containers, 1), "name")),
                        "b");
    json_decref(v);
}

static void yaml_empty_stream_is_null(void **state)
{
    json_t *v = convert("");

    (void)state;
    assert_true(json_is_null(v));
    json_decref(v);
}

static void yaml_rejects_bad_input(void **state)
{
    static const char *const cases[] = {
        "a: [1, 2\n",             /* unterminated flow sequence */
        "a: &x 1\nb: *x\n",       /* alias */
        "? [1]\n: v\n",           /* non-scalar key */
        "---\na: 1\n---\nb: 2\n", /* two documents */
    };
    struct mason_buf err = MASON_BUF_INIT;
    json_t *out;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        out = (json_t *)1;
        mason_buf_reset(&err);
        assert_int_equal(mason_yaml_to_json(cases[i], strlen(cases[i]), &out, &err), MASON_EPARSE);
        assert_null(out);
        assert_non_null(strstr(mason_buf_str(&err), "line "));
    }
    mason_buf_release(&err);
}

static void yaml_rejects_deep_nesting(void **state)
{
    struct mason_buf text = MASON_BUF_INIT;
    json_t *out = NULL;

    (void)state;
    for (int i = 0; i < MASON_YAML_MAX_DEPTH + 2; i++)
        mason_buf_adds(&text, "[");
    assert_int_equal(mason_yaml_to_json(text.data, text.len, &out, NULL), MASON_EPARSE);
    assert_null(out);
    mason_buf_release(&text);
}

static void yaml_all_returns_every_document(void **state)
{
    const char *text = "kind: A\n---\nkind: B\n---\n";
    json_t *docs = NULL;

    (void)state;
    assert_int_equal(mason_yaml_to_json_all(text, strlen(text), &docs, NULL), 0);
    assert_int_equal(json_array_size(docs), 3);
    assert_string_equal(json_string_value(json_object_get(json_array_get(docs, 0), "kind")), "A");
    assert_string_equal(json_string_value(json_object_get(json_array_get(docs, 1), "kind")), "B");
    assert_true(json_is_null(json_array_get(docs, 2)));
    json_decref(docs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(yaml_resolves_core_schema_scalars),
        cmocka_unit_test(yaml_keeps_quoted_scalars_strings),
        cmocka_unit_test(yaml_keeps_huge_integer_as_string),
        cmocka_unit_test(yaml_converts_nested_collections),
        cmocka_unit_test(yaml_empty_stream_is_null),
        cmocka_unit_test(yaml_rejects_bad_input),
        cmocka_unit_test(yaml_rejects_deep_nesting),
        cmocka_unit_test(yaml_all_returns_every_document),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
