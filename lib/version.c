/* SPDX-License-Identifier: MIT */
/* The version of the linked library (see smtp/version.h for the headers' version). */
#include "internal.h"

#include <smtp/smtp.h>

const char *smtp_lib_version(void)
{
    return SMTP_VERSION_STRING;
}

int smtp_lib_version_number(void)
{
    return SMTP_VERSION_NUMBER;
}
