/* SPDX-License-Identifier: MIT */
/*
 * The linked library's version (lib/version.c) agrees with the headers' (smtp/version.h): the
 * string, the number, and the number's packing of the three parts.
 */
#include "check.h"

#include <smtp/smtp.h>

#include <stdio.h>

int main(void)
{
    CHECK_STR(smtp_lib_version(), SMTP_VERSION_STRING);
    CHECK_INT(smtp_lib_version_number(), SMTP_VERSION_NUMBER);
    char text[32];
    int n = smtp_lib_version_number();
    snprintf(text, sizeof text, "%d.%d.%d", n >> 16, (n >> 8) & 0xff, n & 0xff);
    CHECK_STR(text, smtp_lib_version());
    CHECK_INT(n >> 16, SMTP_VERSION_MAJOR);
    return check_finish();
}
