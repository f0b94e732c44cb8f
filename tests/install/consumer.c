/* SPDX-License-Identifier: MIT */
/* Links against an installed libsmtp and checks the headers match the library. */
#include <smtp/smtp.h>

#include <stdio.h>
#include <string.h>

int main(void)
{
    char buf[64];
    smtp_ssize n = smtp_emit_reply1(buf, sizeof buf, 250, "2.0.0", "ok", 2);
    if (n != 14 || memcmp(buf, "250 2.0.0 ok\r\n", 14) != 0) {
        fprintf(stderr, "consumer: smtp_emit_reply1 gave %td bytes\n", n);
        return 1;
    }
    if (strcmp(smtp_lib_version(), SMTP_VERSION_STRING) != 0) {
        fprintf(stderr, "consumer: library %s, headers %s\n", smtp_lib_version(),
                SMTP_VERSION_STRING);
        return 1;
    }
    printf("consumer linked libsmtp %s\n", smtp_lib_version());
    return 0;
}
