/* SPDX-License-Identifier: MIT */
/*
 * smtp-sink's fault injection (--reply, --disconnect, --delay): the specs, parsed and checked
 * at startup, and the matching of a decision against them. Each rule names a decision point
 * (one of the server engine's policy callbacks) and optionally its Nth occurrence in the
 * connection (1-based); without #N it matches every occurrence.
 */
#ifndef EX_FAULTS_H
#define EX_FAULTS_H

#include <stddef.h>

/* The decision points: the engine's policy callbacks the application answers. */
typedef enum ex_fault_point {
    EX_FAULT_CONNECT, /* on_connect: the greeting */
    EX_FAULT_HELO,    /* on_helo: HELO, EHLO or LHLO */
    EX_FAULT_MAIL,    /* on_mail */
    EX_FAULT_RCPT,    /* on_rcpt */
    EX_FAULT_DATA,    /* on_data_start: DATA or the first BDAT of a message */
    EX_FAULT_DOT,     /* on_message_end: after the data ('.' or BDAT LAST) */
    EX_FAULT_VRFY,    /* on_vrfy */
    EX_FAULT_POINTS
} ex_fault_point;

typedef enum ex_fault_kind { EX_FAULT_REPLY, EX_FAULT_DISCONNECT, EX_FAULT_DELAY } ex_fault_kind;

#define EX_FAULT_TEXT_MAX 400 /* the engine's limit on a reply's text */

typedef struct ex_fault {
    ex_fault_kind kind;
    ex_fault_point point;
    unsigned long nth; /* 0: every occurrence */
    int code;          /* EX_FAULT_REPLY */
    char enhanced[12]; /* "X.Y.Z" or "" */
    char text[EX_FAULT_TEXT_MAX + 1];
    unsigned long ms; /* EX_FAULT_DELAY */
} ex_fault;

typedef struct ex_faults {
    ex_fault *v;
    size_t n, cap;
} ex_faults;

/*
 * ex_faults_add parses `spec` of option `kind` and appends the rule. Returns 0, or -1 with a
 * reason in `why` (cap octets) for a malformed spec or one the engine would refuse, or -1
 * with errno ENOMEM and "out of memory".
 */
int ex_faults_add(ex_faults *f, ex_fault_kind kind, const char *spec, char *why, size_t cap);

/* ex_faults_find returns the first rule of `kind` for the `count`th occurrence (1-based) of
 * `point`, or NULL. */
const ex_fault *ex_faults_find(const ex_faults *f, ex_fault_kind kind, ex_fault_point point,
                               unsigned long count);

/* ex_faults_refuses is 1 when a --reply rule's code refuses (4xx, 5xx), 0 when it accepts. */
int ex_fault_refuses(const ex_fault *r);

void ex_faults_free(ex_faults *f);

#endif /* EX_FAULTS_H */
