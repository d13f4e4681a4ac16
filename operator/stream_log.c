/* RFC 3339 timestamps and the prefix of pod-log lines. */
#include "stream.h"

#include <string.h>

#include "error.h"
#include "banned.h"

/* Reads n decimal digits. */
static bool digits(const char *s, int n, int *out)
{
    int v = 0;

    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    int64_t era, yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    int64_t era, doe, yoe, doy, mp;

    z += 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = z - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

/* Reads the fraction after '.', up to nine digits counted; more are ignored. */
static size_t parse_fraction(const char *s, size_t len, int32_t *nsec)
{
    size_t i = 0;
    int32_t v = 0, scale = 100000000;

    while (i < len && s[i] >= '0' && s[i] <= '9') {
        if (scale > 0) {
            v += (s[i] - '0') * scale;
            scale /= 10;
        }
        i++;
    }
    *nsec = v;
    return i;
}

static int parse_zone(const char *s, size_t len, int *offset_sec)
{
    int hh, mm;

    if (len == 1 && (s[0] == 'Z' || s[0] == 'z')) {
        *offset_sec = 0;
        return 0;
    }
    if (len != 6 || (s[0] != '+' && s[0] != '-') || s[3] != ':' || !digits(s + 1, 2, &hh) ||
        !digits(s + 4, 2, &mm) || hh > 23 || mm > 59)
        return MASON_EPARSE;
    *offset_sec = (hh * 3600 + mm * 60) * (s[0] == '-' ? -1 : 1);
    return 0;
}

int mason_timestamp_parse(const char *s, size_t len, struct mason_timestamp *out)
{
    int y, mo, d, h, mi, se, offset;
    size_t i = 19;

    if (len < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') || s[13] != ':' ||
        s[16] != ':')
        return MASON_EPARSE;
    if (!digits(s, 4, &y) || !digits(s + 5, 2, &mo) || !digits(s + 8, 2, &d) ||
        !digits(s + 11, 2, &h) || !digits(s + 14, 2, &mi) || !digits(s + 17, 2, &se))
        return MASON_EPARSE;
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60)
        return MASON_EPARSE;
    out->nsec = 0;
    if (s[i] == '.') {
        size_t n = parse_fraction(s + i + 1, len - i - 1, &out->nsec);

        if (n == 0)
            return MASON_EPARSE;
        i += 1 + n;
    }
    if (parse_zone(s + i, len - i, &offset))
        return MASON_EPARSE;
    out->sec = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se - offset;
    return 0;
}

int mason_timestamp_cmp(const struct mason_timestamp *a, const struct mason_timestamp *b)
{
    if (a->sec != b->sec)
        return a->sec < b->sec ? -1 : 1;
    if (a->nsec != b->nsec)
        return a->nsec < b->nsec ? -1 : 1;
    return 0;
}

int mason_timestamp_format(const struct mason_timestamp *ts, bool nanoseconds,
                           struct mason_buf *out)
{
    int64_t days = ts->sec / 86400, rem = ts->sec % 86400, y;
    int m, d;
    int rc;

    if (rem < 0) {
        rem += 86400;
        days--;
    }
    civil_from_days(days, &y, &m, &d);
    rc = mason_buf_addf(out, "%04lld-%02d-%02dT%02d:%02d:%02d", (long long)y, m, d,
                        (int)(rem / 3600), (int)(rem / 60 % 60), (int)(rem % 60));
    if (rc == 0 && nanoseconds)
        rc = mason_buf_addf(out, ".%09d", (int)ts->nsec);
    if (rc == 0)
        rc = mason_buf_adds(out, "Z");
    return rc;
}

/* Recognises "stdout F " / "stderr P " after the timestamp. */
static bool cri_tag(const char *s, size_t len, struct mason_log_line *out)
{
    if (len < 9 || s[6] != ' ' || (s[7] != 'F' && s[7] != 'P') || s[8] != ' ')
        return false;
    if (memcmp(s, "stdout", 6) == 0)
        out->stream = MASON_LOG_STREAM_STDOUT;
    else if (memcmp(s, "stderr", 6) == 0)
        out->stream = MASON_LOG_STREAM_STDERR;
    else
        return false;
    out->partial = s[7] == 'P';
    return true;
}

int mason_log_line_parse(const char *line, size_t len, struct mason_log_line *out)
{
    const char *space = memchr(line, ' ', len < 64 ? len : 64);
    size_t ts_len;

    memset(out, 0, sizeof(*out));
    if (!space)
        return MASON_EPARSE;
    ts_len = (size_t)(space - line);
    if (mason_timestamp_parse(line, ts_len, &out->ts))
        return MASON_EPARSE;
    out->text = space + 1;
    out->len = len - ts_len - 1;
    if (cri_tag(out->text, out->len, out)) {
        out->text += 9;
        out->len -= 9;
    }
    return 0;
}
