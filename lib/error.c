/* SPDX-License-Identifier: MIT */
/* Names and descriptions of the SMTP_ERR_* codes (include/smtp/common.h). */
#include "internal.h"

struct error_info {
    int code;
    const char *name;
    const char *text;
};

static const struct error_info errors[] = {
    {SMTP_OK, "SMTP_OK", "success"},
    {SMTP_ERR_INVALID_ARGUMENT, "SMTP_ERR_INVALID_ARGUMENT", "invalid argument"},
    {SMTP_ERR_UNSAFE_ARGUMENT, "SMTP_ERR_UNSAFE_ARGUMENT",
     "argument holds CR, LF, NUL or a control byte"},
    {SMTP_ERR_NOBUF, "SMTP_ERR_NOBUF", "output buffer too small"},
    {SMTP_ERR_INVALID_STATE, "SMTP_ERR_INVALID_STATE", "call not allowed in this state"},
    {SMTP_ERR_NOMEM, "SMTP_ERR_NOMEM", "out of memory"},
    {SMTP_ERR_CALLBACK_FAILURE, "SMTP_ERR_CALLBACK_FAILURE", "a callback failed"},
    {SMTP_ERR_PROTO, "SMTP_ERR_PROTO", "protocol violation by the peer"},
    {SMTP_ERR_LINE_TOO_LONG, "SMTP_ERR_LINE_TOO_LONG", "line too long"},
    {SMTP_ERR_BARE_LF, "SMTP_ERR_BARE_LF", "bare LF (not preceded by CR)"},
    {SMTP_ERR_BARE_CR, "SMTP_ERR_BARE_CR", "bare CR (not followed by LF)"},
    {SMTP_ERR_NUL, "SMTP_ERR_NUL", "NUL byte"},
    {SMTP_ERR_REPLY_CODE, "SMTP_ERR_REPLY_CODE", "reply line without a valid 2xx-5xx code"},
    {SMTP_ERR_REPLY_MISMATCH, "SMTP_ERR_REPLY_MISMATCH",
     "continuation line with a different reply code"},
    {SMTP_ERR_REPLY_TOO_LONG, "SMTP_ERR_REPLY_TOO_LONG", "multi-line reply has too many lines"},
    {SMTP_ERR_REPLY_SEPARATOR, "SMTP_ERR_REPLY_SEPARATOR",
     "reply code followed by a byte other than SP, '-' or CRLF"},
    {SMTP_ERR_SYNTAX, "SMTP_ERR_SYNTAX", "syntax error"},
    {SMTP_ERR_TOO_LONG, "SMTP_ERR_TOO_LONG", "element exceeds its length limit"},
    {SMTP_ERR_OVERFLOW, "SMTP_ERR_OVERFLOW", "number out of range"},
    {SMTP_ERR_UTF8, "SMTP_ERR_UTF8", "malformed or disallowed UTF-8"},
    {SMTP_ERR_XTEXT, "SMTP_ERR_XTEXT", "malformed xtext or xtext decoding to a control byte"},
    {SMTP_ERR_BASE64, "SMTP_ERR_BASE64", "malformed base64"},
    {SMTP_ERR_DUPLICATE, "SMTP_ERR_DUPLICATE", "parameter given more than once"},
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
