/* SPDX-License-Identifier: MIT */
/*
 * The default allocator (C library malloc family) and the small span and grammar helpers that
 * several parsers share (declared in internal.h), so that each rule is written once.
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

static void *default_malloc(size_t size, void *user_data)
{
    (void)user_data;
    return malloc(size);
}

static void default_free(void *ptr, void *user_data)
{
    (void)user_data;
    free(ptr);
}

static void *default_calloc(size_t nmemb, size_t size, void *user_data)
{
    (void)user_data;
    return calloc(nmemb, size);
}

static void *default_realloc(void *ptr, size_t size, void *user_data)
{
    (void)user_data;
    return realloc(ptr, size);
}

static const smtp_mem mem_default = {
    .user_data = NULL,
    .malloc = default_malloc,
    .free = default_free,
    .calloc = default_calloc,
    .realloc = default_realloc,
};

const smtp_mem *smtp_mem_default(void)
{
    return &mem_default;
}

bool smtp_span_ieq(const char *ptr, size_t len, const char *lower_lit)
{
    size_t i = 0;
    for (; i < len; i++) {
        if (lower_lit[i] == '\0' ||
            smtp_lower((unsigned char)ptr[i]) != (unsigned char)lower_lit[i])
            return false;
    }
    return lower_lit[i] == '\0';
}

bool smtp_span_iprefix(const char *ptr, size_t len, const char *lower_lit)
{
    size_t i = 0;
    for (; lower_lit[i] != '\0'; i++) {
        if (i >= len || smtp_lower((unsigned char)ptr[i]) != (unsigned char)lower_lit[i])
            return false;
    }
    return true;
}

bool smtp_span_ieq_span(const char *a, size_t alen, const char *b, size_t blen)
{
    if (alen != blen) return false;
    for (size_t i = 0; i < alen; i++) {
        if (smtp_lower((unsigned char)a[i]) != smtp_lower((unsigned char)b[i])) return false;
    }
    return true;
}

bool smtp_span_has_ctl(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (smtp_is_ctl((unsigned char)p[i])) return true;
    }
    return false;
}

bool smtp_is_atext(unsigned char c)
{
    return smtp_is_alnum(c) || (c != 0 && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

bool smtp_is_sasl_mech(const char *p, size_t n)
{
    if (n == 0 || n > 20) return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (!smtp_is_alnum(c) && c != '-' && c != '_') return false;
    }
    return true;
}

int smtp_parse_uint(const char *p, size_t n, size_t max_digits, uint64_t limit, uint64_t *out)
{
    if (n == 0) return SMTP_ERR_SYNTAX;
    for (size_t i = 0; i < n; i++) {
        if (!smtp_is_digit((unsigned char)p[i])) return SMTP_ERR_SYNTAX;
    }
    if (n > max_digits) return SMTP_ERR_OVERFLOW;
    uint64_t x = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned d = (unsigned)(p[i] - '0');
        if (d > limit || x > (limit - d) / 10) return SMTP_ERR_OVERFLOW;
        x = x * 10 + d;
    }
    *out = x;
    return 0;
}
