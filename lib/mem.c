/* The default allocator (C library malloc family) and small shared span helpers. */
#include "internal.h"

#include <stdlib.h>

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
        if (lower_lit[i] == '\0' || smtp_lower((unsigned char)ptr[i]) != (unsigned char)lower_lit[i])
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
