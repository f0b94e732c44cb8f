/* SPDX-License-Identifier: MIT */
/*
 * The IDNA component (<smtp/idn.h>): a domain to its A-label form with libidn2.
 *
 * libidn2 does the work: UTS #46 mapping, the IDNA2008 checks and Punycode. Around it, the
 * domain is checked with the core's grammar first (so that what libidn2 tolerates and RFC 5321
 * does not, an empty label, never goes through) and after (the result is what the client
 * engine sends as is). An ASCII domain is not given to libidn2 at all: UTS #46 would fold its
 * case, and nothing needs converting.
 */
#include <smtp/idn.h>
#include <smtp/path.h>

#include <idn2.h>

#include <string.h>

/* libidn2's refusals as SMTP_ERR_* codes (<smtp/idn.h>). */
static int error_of(int rc)
{
    switch (rc) {
    case IDN2_MALLOC: return SMTP_ERR_NOMEM;
    case IDN2_ENCODING_ERROR:
    case IDN2_NFC:
    case IDN2_DISALLOWED:
    case IDN2_UNASSIGNED: return SMTP_ERR_UTF8;
    case IDN2_TOO_BIG_DOMAIN:
    case IDN2_TOO_BIG_LABEL:
    case IDN2_PUNYCODE_BIG_OUTPUT: return SMTP_ERR_TOO_LONG;
    default: return SMTP_ERR_SYNTAX;
    }
}

int smtp_idn_to_ascii(const char *domain, size_t len, char *out, size_t cap)
{
    char in[SMTP_MAX_DOMAIN + 1];
    smtp_domain d;
    if ((!domain && len) || !out) return SMTP_ERR_INVALID_ARGUMENT;
    int rv = smtp_domain_parse(domain, len, SMTP_PATH_UTF8, &d, NULL);
    if (rv != 0) return rv;
    if (!d.utf8) { /* nothing to convert */
        if (len >= cap) return SMTP_ERR_NOBUF;
        memcpy(out, domain, len);
        out[len] = '\0';
        return (int)len;
    }
    memcpy(in, domain, len); /* the grammar bounds it to 255 octets */
    in[len] = '\0';
    uint8_t *a = NULL;
    int rc = idn2_lookup_u8((const uint8_t *)in, &a,
                            IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL | IDN2_USE_STD3_ASCII_RULES);
    if (rc != IDN2_OK) return error_of(rc);
    size_t n = strlen((const char *)a);
    rv = smtp_domain_parse((const char *)a, n, 0, &d, NULL);
    if (rv == 0 && n >= cap) rv = SMTP_ERR_NOBUF;
    if (rv == 0) memcpy(out, a, n + 1);
    idn2_free(a);
    return rv != 0 ? rv : (int)n;
}
