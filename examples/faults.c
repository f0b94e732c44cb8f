/* SPDX-License-Identifier: MIT */
/*
 * smtp-sink's fault injection specs (faults.h):
 *   --reply 'CMD[#N]:CODE [X.Y.Z] [TEXT]'   --disconnect 'CMD[#N]'   --delay 'CMD[#N]:MS'
 * CMD is CONNECT, HELO (also EHLO, LHLO), MAIL, RCPT, DATA (also BDAT), '.' or VRFY, in any
 * case. The checks follow smtp_server_reply (server.h): 4xx/5xx everywhere, the acceptance
 * codes of each decision but the greeting's, a second digit of 0 to 5 (RFC 5321 4.2), an
 * enhanced code of the reply's class, a text of at most 400 octets without control bytes.
 */
#include "faults.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const struct {
    const char *name;
    ex_fault_point point;
} names[] = {
    {"CONNECT", EX_FAULT_CONNECT}, {"HELO", EX_FAULT_HELO}, {"EHLO", EX_FAULT_HELO},
    {"LHLO", EX_FAULT_HELO},       {"MAIL", EX_FAULT_MAIL}, {"RCPT", EX_FAULT_RCPT},
    {"DATA", EX_FAULT_DATA},       {"BDAT", EX_FAULT_DATA}, {".", EX_FAULT_DOT},
    {"VRFY", EX_FAULT_VRFY},
};

/* A decimal number of at most `digits` digits from s; *end after it. -1: none or too long. */
static long decimal(const char *s, int digits, const char **end)
{
    long v = 0;
    int n = 0;
    while (s[n] >= '0' && s[n] <= '9') {
        if (n == digits) return -1;
        v = v * 10 + (s[n] - '0');
        n++;
    }
    *end = s + n;
    return n == 0 ? -1 : v;
}

/* The codes smtp_server_reply takes for `point`, besides 4xx and 5xx. */
static int accepts(ex_fault_point point, int code)
{
    switch (point) {
    case EX_FAULT_HELO:
    case EX_FAULT_MAIL:
    case EX_FAULT_DOT: return code == 250;
    case EX_FAULT_RCPT:
    case EX_FAULT_VRFY: return code == 250 || code == 251 || code == 252;
    default: return 0; /* the greeting and DATA/BDAT: refusals only */
    }
}

static int bad(char *why, size_t cap, const char *msg)
{
    snprintf(why, cap, "%s", msg);
    return -1;
}

int ex_faults_add(ex_faults *f, ex_fault_kind kind, const char *spec, char *why, size_t cap)
{
    ex_fault r;
    memset(&r, 0, sizeof r);
    r.kind = kind;
    size_t cmdlen = strcspn(spec, "#:");
    size_t i;
    for (i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strlen(names[i].name) == cmdlen && strncasecmp(spec, names[i].name, cmdlen) == 0) break;
    if (i == sizeof names / sizeof names[0])
        return bad(why, cap,
                   "CMD must be CONNECT, HELO, EHLO, LHLO, MAIL, RCPT, DATA, BDAT, '.' "
                   "or VRFY");
    r.point = names[i].point;
    const char *p = spec + cmdlen;
    if (*p == '#') {
        long n = decimal(p + 1, 7, &p);
        if (n < 1) return bad(why, cap, "#N must be a number from 1 to 9999999");
        r.nth = (unsigned long)n;
    }
    if (kind == EX_FAULT_DISCONNECT) {
        if (*p != '\0') return bad(why, cap, "expected CMD[#N]");
    } else if (*p++ != ':') {
        return bad(why, cap,
                   kind == EX_FAULT_DELAY ? "expected CMD[#N]:MS" : "expected CMD[#N]:CODE [TEXT]");
    } else if (kind == EX_FAULT_DELAY) {
        long ms = decimal(p, 7, &p);
        if (ms < 1 || ms > 3600000 || *p != '\0')
            return bad(why, cap, "MS must be a number of milliseconds from 1 to 3600000");
        r.ms = (unsigned long)ms;
    } else {
        long code = decimal(p, 3, &p);
        if (code < 100 || (*p != '\0' && *p != ' '))
            return bad(why, cap, "CODE must be three digits");
        if (code / 10 % 10 > 5) return bad(why, cap, "CODE's second digit must be 0 to 5");
        if (!(code >= 400 && code <= 599) && !accepts(r.point, (int)code))
            return bad(why, cap,
                       r.point == EX_FAULT_CONNECT || r.point == EX_FAULT_DATA
                           ? "CODE must be 4xx or 5xx here"
                           : "CODE must be 4xx, 5xx or an acceptance code of this "
                             "command (250; RCPT and VRFY: 250, 251, 252)");
        r.code = (int)code;
        if (*p == ' ') p++;
        /* An enhanced code X.Y.Z (RFC 3463) at the start of the text, of the code's class. */
        const char *q;
        long cls = decimal(p, 1, &q);
        if (cls >= 0 && *q == '.') {
            long sub = decimal(q + 1, 3, &q), det = -1;
            if (sub >= 0 && *q == '.') det = decimal(q + 1, 3, &q);
            if (det < 0 || (*q != '\0' && *q != ' '))
                return bad(why, cap, "the enhanced code must be X.Y.Z (RFC 3463)");
            if (cls != code / 100)
                return bad(why, cap, "the enhanced code's class must be the reply code's");
            memcpy(r.enhanced, p, (size_t)(q - p));
            r.enhanced[q - p] = '\0';
            p = *q == ' ' ? q + 1 : q;
        }
        size_t len = strlen(p);
        if (len > EX_FAULT_TEXT_MAX) return bad(why, cap, "TEXT is longer than 400 octets");
        for (size_t k = 0; k < len; k++)
            if ((unsigned char)p[k] < 0x20 || p[k] == 0x7f)
                return bad(why, cap, "TEXT has a control character");
        memcpy(r.text, p, len + 1);
    }
    if (f->n == f->cap) {
        size_t ncap = f->cap ? f->cap * 2 : 8;
        ex_fault *v = realloc(f->v, ncap * sizeof *v);
        if (v == NULL) {
            errno = ENOMEM;
            return bad(why, cap, "out of memory");
        }
        f->v = v;
        f->cap = ncap;
    }
    f->v[f->n++] = r;
    return 0;
}

const ex_fault *ex_faults_find(const ex_faults *f, ex_fault_kind kind, ex_fault_point point,
                               unsigned long count)
{
    for (size_t i = 0; i < f->n; i++) {
        const ex_fault *r = &f->v[i];
        if (r->kind == kind && r->point == point && (r->nth == 0 || r->nth == count)) return r;
    }
    return NULL;
}

int ex_fault_refuses(const ex_fault *r)
{
    return r->code >= 400;
}

void ex_faults_free(ex_faults *f)
{
    free(f->v);
    f->v = NULL;
    f->n = f->cap = 0;
}
