/* SPDX-License-Identifier: MIT */
/* The default allocator (smtp_mem_default): the C library's malloc family, called nowhere else. */
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
