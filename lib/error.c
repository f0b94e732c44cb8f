/* SPDX-License-Identifier: MIT */
/* Names and descriptions of the SMTP_ERR_* codes (include/smtp/common.h). */
#include "internal.h"

struct error_info {
    int code;
    const char *name;
    const char *text;
};

static const struct error_info errors[] = {
#define SMTP_ERROR_ROW(name, value, text) {value, "SMTP_" #name, text},
    SMTP_ERROR_MAP(SMTP_ERROR_ROW)
#undef SMTP_ERROR_ROW
};

static const struct error_info *find(int err)
{
    for (size_t i = 0; i < SMTP_ARRAY_LEN(errors); i++) {
        if (errors[i].code == err)
            return &errors[i];
    }
    return NULL;
}

const char *smtp_error_name(int err)
{
    const struct error_info *e = find(err);
    return e ? e->name : "SMTP_ERR_UNKNOWN";
}

const char *smtp_error_text(int err)
{
    const struct error_info *e = find(err);
    return e ? e->text : "unknown error";
}

int smtp_error_is_fatal(int err)
{
    return err <= SMTP_ERR_NOMEM && err > SMTP_ERR_SYNTAX && find(err) != NULL;
}
