/* SPDX-License-Identifier: MIT */
/** @file
 * libsmtp — ESMTP parameters of MAIL and RCPT (RFC 5321 4.1.2 esmtp-param, and the
 * extensions that define them).
 *
 * Two layers, both stateless and allocation-free:
 *  - an iterator over "keyword[=value]" tokens (smtp_param_iter_init / smtp_param_next);
 *  - typed parsers for MAIL and RCPT (smtp_mail_params_parse / smtp_rcpt_params_parse) that
 *    check every known parameter, fill a struct of values and spans, and report precisely the
 *    parameter that failed and why (smtp_param_fault), so that a server can answer 501 or 555
 *    with a useful text. Unknown parameters are never dropped: they go to a callback, and
 *    without one (or when it refuses them) they fail the parse with reply code 555.
 *
 * Spans borrow the parameter string and are valid as long as it is.
 *
 * Parameters and their extensions:
 *   MAIL  SIZE=n (RFC 1870)  BODY=7BIT|8BITMIME|BINARYMIME (RFC 6152, RFC 3030)
 *         SMTPUTF8 (RFC 6531)  RET=FULL|HDRS, ENVID=xtext (RFC 3461)  AUTH=xtext|<> (RFC 4954 5)
 *         REQUIRETLS (RFC 8689)  MT-PRIORITY=-9..9 (RFC 6710)  BY=time;R|N[T] (RFC 2852)
 *         HOLDFOR=seconds | HOLDUNTIL=date-time (RFC 4865)
 *   RCPT  NOTIFY=NEVER|SUCCESS,FAILURE,DELAY and ORCPT=type;address (RFC 3461, RFC 6533)
 *         RRVS=date-time[;R|C] (RFC 7293, a RCPT parameter only)
 */
#ifndef SMTP_PARAMS_H
#define SMTP_PARAMS_H

#include <smtp/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- the iterator ---- */

/** One parameter. */
typedef struct smtp_param {
    smtp_span key;   /**< the esmtp-keyword as written (compare case-insensitively) */
    smtp_span value; /**< the esmtp-value as written; empty when there is no '=' */
    int has_value;   /**< 1 when the parameter had "=value" */
    int utf8;        /**< 1 when the value holds UTF-8 (RFC 6531 3.3) */
    size_t offset;   /**< where the keyword starts in the parameter string */
} smtp_param;

/** Iterator flag: accept UTF-8 (well formed) in values, as RFC 6531 3.3 allows with SMTPUTF8. */
#define SMTP_PARAM_UTF8 0x01u

/** The iterator's state; read only error and error_at. */
typedef struct smtp_param_iter {
    const char *s;   /**< the parameter string */
    size_t len;      /**< its length */
    size_t pos;      /**< the offset of the next parameter */
    unsigned flags;  /**< SMTP_PARAM_UTF8 or 0 */
    int error;       /**< the sticky error, 0 while none */
    size_t error_at; /**< after an error: the offset of the offending byte */
} smtp_param_iter;

/**
 * smtp_param_iter_init prepares `it` to walk the parameters in the `len` bytes at `s`.
 *
 * Parameters are separated by one or more SP; leading and trailing SP are ignored, so the
 * command parser may hand the string with or without its first SP. Nothing is copied: `it`
 * borrows `s`.
 *
 * @param it     The iterator to prepare. NULL is ignored.
 * @param s      The parameter string, `len` octets; need not be NUL-terminated. NULL stands
 *               for an empty string.
 * @param len    The length of `s` in octets.
 * @param flags  SMTP_PARAM_UTF8 to accept UTF-8 in values, or 0.
 */
SMTP_API void smtp_param_iter_init(smtp_param_iter *it, const char *s, size_t len, unsigned flags);

/**
 * smtp_param_next stores the next parameter of the string in `*p`.
 *
 * Grammar (RFC 5321 4.1.2): esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-");
 * esmtp-value = 1*(\%d33-60 / \%d62-126), plus UTF8-non-ascii with SMTP_PARAM_UTF8 (RFC 6531
 * 3.3). After a syntax or UTF-8 error `it->error` and `it->error_at` are set and every later
 * call returns the same error.
 *
 * @code
 * smtp_param_iter it;
 * smtp_param p;
 * int rv;
 * smtp_param_iter_init(&it, s, len, 0);
 * while ((rv = smtp_param_next(&it, &p)) == 1)
 *     printf("%.*s\n", (int)p.key.len, p.key.ptr);
 * if (rv < 0) printf("%s at offset %zu\n", smtp_error_name(rv), it.error_at);
 * @endcode
 *
 * @param it  The iterator, prepared by smtp_param_iter_init.
 * @param p   Receives the parameter; its spans borrow the string. Cleared on every call, also
 *            at the end and on error.
 * @return 1 when `*p` holds a parameter, 0 when there are no more, or one of these negative
 *         error codes:
 * @retval SMTP_ERR_SYNTAX A keyword that does not start with a letter or digit (keywords are
 *         ASCII, even with UTF-8), "key=" with an empty value, '=', a control byte or DEL in a
 *         value, or a separator other than SP.
 * @retval SMTP_ERR_UTF8 A byte >= 0x80 in a value without SMTP_PARAM_UTF8, or malformed UTF-8.
 * @retval SMTP_ERR_INVALID_ARGUMENT `it` or `p` is NULL (not sticky).
 */
SMTP_API int smtp_param_next(smtp_param_iter *it, smtp_param *p);

/* ---- typed parsing ---- */

/** Extensions whose parameters the typed parsers know (smtp_params_opts.extensions). */
/** @{ */
#define SMTP_PARAM_EXT_SIZE 0x0001u          /**< SIZE */
#define SMTP_PARAM_EXT_8BITMIME 0x0002u      /**< BODY=7BIT, BODY=8BITMIME */
#define SMTP_PARAM_EXT_BINARYMIME 0x0004u    /**< BODY=7BIT, BODY=BINARYMIME */
#define SMTP_PARAM_EXT_SMTPUTF8 0x0008u      /**< SMTPUTF8 */
#define SMTP_PARAM_EXT_DSN 0x0010u           /**< RET, ENVID, NOTIFY, ORCPT */
#define SMTP_PARAM_EXT_AUTH 0x0020u          /**< AUTH= */
#define SMTP_PARAM_EXT_REQUIRETLS 0x0040u    /**< REQUIRETLS */
#define SMTP_PARAM_EXT_MTPRIORITY 0x0080u    /**< MT-PRIORITY */
#define SMTP_PARAM_EXT_DELIVERBY 0x0100u     /**< BY */
#define SMTP_PARAM_EXT_FUTURERELEASE 0x0200u /**< HOLDFOR, HOLDUNTIL */
#define SMTP_PARAM_EXT_RRVS 0x0400u          /**< RRVS */
#define SMTP_PARAM_EXT_ALL 0x07ffu
/** @} */

/**
 * The callback for a parameter the parser does not know, or whose extension is not in
 * smtp_params_opts.extensions (a server that did not advertise DSN must answer NOTIFY with
 * 555, RFC 5321 4.1.1.11).
 *
 * @param param      The parameter; its spans borrow the parameter string.
 * @param user_data  smtp_params_opts.user_data.
 * @return 0 when the application handles the parameter itself (the parse goes on and counts
 *         it in `extra`), SMTP_PARAM_UNRECOGNIZED to refuse it (the parse fails with reply
 *         code 555; any other positive value refuses too), or a negative value to abort
 *         (SMTP_ERR_CALLBACK_FAILURE).
 */
typedef int (*smtp_param_unknown_cb)(const smtp_param *param, void *user_data);

/** What an smtp_param_unknown_cb returns to refuse the parameter (reply code 555). */
#define SMTP_PARAM_UNRECOGNIZED 1

/** Options of the typed parsers. NULL options mean smtp_params_opts_init's defaults. */
typedef struct smtp_params_opts {
    unsigned extensions; /**< SMTP_PARAM_EXT_* the server offers; others are unknown */
    /**
     * RCPT: the transaction's MAIL carried SMTPUTF8, so UTF-8 values (ORCPT in the unitext
     * form) are allowed. MAIL needs no flag: its own SMTPUTF8 parameter allows them.
     */
    int smtputf8;
    smtp_param_unknown_cb unknown; /**< NULL: every unknown parameter is refused (555) */
    void *user_data;               /**< passed to `unknown` */
} smtp_params_opts;

/** The version of smtp_params_opts this header describes (common.h: versioned structs). */
#define SMTP_PARAMS_OPTS_VERSION 1

/**
 * smtp_params_opts_init fills `o` with the defaults of this header's version.
 *
 * See smtp_params_opts_init_versioned.
 */
#define smtp_params_opts_init(o) smtp_params_opts_init_versioned(SMTP_PARAMS_OPTS_VERSION, (o))
/**
 * smtp_params_opts_init_versioned fills the fields of smtp_params_opts version `version` with
 * their defaults: all extensions (SMTP_PARAM_EXT_ALL), smtputf8 0, no callback.
 *
 * @param version  The struct version the caller was compiled with (SMTP_PARAMS_OPTS_VERSION);
 *                 another version is ignored.
 * @param o        The options to fill. NULL is ignored.
 */
SMTP_API void smtp_params_opts_init_versioned(int version, smtp_params_opts *o);

/**
 * Why a typed parse failed. Reply codes (RFC 5321 4.1.1.11, 4.2.3): 501 for a syntax error in
 * a parameter, 555 for a parameter that is not recognized or not implemented; both go with the
 * enhanced status 5.5.4 (RFC 3463: invalid command arguments). reply_code is 0 when the fault
 * is not the client's (a callback failure).
 */
typedef struct smtp_param_fault {
    smtp_span key;    /**< the failing parameter's keyword; empty when no parameter was found */
    size_t offset;    /**< offset in the parameter string of the failing parameter or byte */
    int reply_code;   /**< 501, 555, or 0 */
    const char *text; /**< a short English reason, static, e.g. "SIZE value is not a number" */
} smtp_param_fault;

/** The BODY parameter (RFC 6152, RFC 3030); SMTP_BODY_NONE when absent. */
typedef enum smtp_body {
    SMTP_BODY_NONE = 0,
    SMTP_BODY_7BIT,
    SMTP_BODY_8BITMIME,
    SMTP_BODY_BINARYMIME
} smtp_body;

/** The RET parameter (RFC 3461 4.3); SMTP_RET_NONE when absent. */
typedef enum smtp_ret { SMTP_RET_NONE = 0, SMTP_RET_FULL, SMTP_RET_HDRS } smtp_ret;

/** The mode of the BY parameter (RFC 2852): N (notify) or R (return). */
typedef enum smtp_by_mode { SMTP_BY_NONE = 0, SMTP_BY_NOTIFY, SMTP_BY_RETURN } smtp_by_mode;

/** smtp_mail_params.present bits: which parameters were given. */
/** @{ */
#define SMTP_MAIL_SIZE 0x0001u
#define SMTP_MAIL_BODY 0x0002u
#define SMTP_MAIL_SMTPUTF8 0x0004u
#define SMTP_MAIL_RET 0x0008u
#define SMTP_MAIL_ENVID 0x0010u
#define SMTP_MAIL_AUTH 0x0020u
#define SMTP_MAIL_REQUIRETLS 0x0040u
#define SMTP_MAIL_MT_PRIORITY 0x0080u
#define SMTP_MAIL_BY 0x0100u
#define SMTP_MAIL_HOLDFOR 0x0200u
#define SMTP_MAIL_HOLDUNTIL 0x0400u
/** @} */

/** The parameters of MAIL FROM. Only the fields whose `present` bit is set are meaningful. */
typedef struct smtp_mail_params {
    unsigned present;       /**< SMTP_MAIL_* */
    uint64_t size;          /**< SIZE: the declared message size in octets (RFC 1870) */
    smtp_body body;         /**< BODY */
    smtp_ret ret;           /**< RET */
    smtp_span envid;        /**< ENVID as written (xtext, validated, at most 100 characters) */
    smtp_span auth;         /**< AUTH as written (xtext, validated); "<>" for no identity */
    int mt_priority;        /**< MT-PRIORITY: -9..9 */
    int64_t by_time;        /**< BY: seconds, -999999999..999999999 (> 0 in R mode) */
    smtp_by_mode by_mode;   /**< BY: the R or N mode */
    int by_trace;           /**< BY: the T modifier */
    uint32_t holdfor;       /**< HOLDFOR: seconds (at most 999999999) */
    smtp_span holduntil;    /**< HOLDUNTIL as written (an RFC 3339 date-time) */
    int64_t holduntil_utc;  /**< HOLDUNTIL in seconds since 1970-01-01T00:00:00Z */
    size_t extra;           /**< unknown parameters the callback accepted */
    smtp_param_fault fault; /**< why the parse failed */
} smtp_mail_params;

/** NOTIFY bits (RFC 3461 4.1). */
/** @{ */
#define SMTP_NOTIFY_NEVER 0x1u
#define SMTP_NOTIFY_SUCCESS 0x2u
#define SMTP_NOTIFY_FAILURE 0x4u
#define SMTP_NOTIFY_DELAY 0x8u
/** @} */

/** ORCPT address types the parser checks specially. */
typedef enum smtp_orcpt_type {
    SMTP_ORCPT_OTHER = 0, /**< any other atom: the address is validated as xtext */
    SMTP_ORCPT_RFC822,    /**< "rfc822": xtext (RFC 3461 4.2) */
    SMTP_ORCPT_UTF8       /**< "utf-8": utf-8-addr-xtext, or -unitext with SMTPUTF8 (RFC 6533) */
} smtp_orcpt_type;

/** The mode of the RRVS parameter (RFC 7293). */
typedef enum smtp_rrvs_mode {
    SMTP_RRVS_NONE = 0,
    SMTP_RRVS_REJECT,  /**< ";R" or no mode: refuse if the mailbox changed owner */
    SMTP_RRVS_CONTINUE /**< ";C": deliver anyway, without the RRVS check downstream */
} smtp_rrvs_mode;

/** smtp_rcpt_params.present bits. */
/** @{ */
#define SMTP_RCPT_NOTIFY 0x1u
#define SMTP_RCPT_ORCPT 0x2u
#define SMTP_RCPT_RRVS 0x4u
/** @} */

/** The parameters of RCPT TO. */
typedef struct smtp_rcpt_params {
    unsigned present;           /**< SMTP_RCPT_* */
    unsigned notify;            /**< SMTP_NOTIFY_* (NEVER alone, or any of the other three) */
    smtp_orcpt_type orcpt_type; /**< ORCPT: the addr-type */
    smtp_span orcpt_type_name;  /**< the addr-type as written ("rfc822") */
    smtp_span orcpt_addr;       /**< the encoded address as written; decode with <smtp/codec.h> */
    smtp_span rrvs;             /**< RRVS date-time as written */
    int64_t rrvs_utc;           /**< RRVS in seconds since the epoch */
    smtp_rrvs_mode rrvs_mode;   /**< RRVS: the mode */
    size_t extra;               /**< unknown parameters the callback accepted */
    smtp_param_fault fault;     /**< why the parse failed */
} smtp_rcpt_params;

/**
 * smtp_mail_params_parse parses the parameters of MAIL FROM with this header's version of
 * smtp_params_opts.
 *
 * See smtp_mail_params_parse_versioned.
 */
#define smtp_mail_params_parse(s, len, opts, out)                                                  \
    smtp_mail_params_parse_versioned(SMTP_PARAMS_OPTS_VERSION, (s), (len), (opts), (out))
/**
 * smtp_mail_params_parse_versioned parses the parameters of MAIL FROM (everything after the
 * path) into `*out`, reading `opts` as the version of smtp_params_opts the caller uses.
 *
 * Keywords are case-insensitive, as are the values of BODY, RET and BY's modes. UTF-8 is
 * allowed in values when the string carries SMTPUTF8 (anywhere, and SMTP_PARAM_EXT_SMTPUTF8
 * is enabled) or `opts->smtputf8` is set. On an error other than SMTP_ERR_INVALID_ARGUMENT,
 * `out->fault` says which parameter failed, why, and the reply code to answer with (501 or
 * 555; 0 for a callback failure). Call it through the macro smtp_mail_params_parse.
 *
 * @code
 * smtp_mail_params mp;
 * const char *s = "SIZE=1000 BODY=8BITMIME";
 * int rv = smtp_mail_params_parse(s, strlen(s), NULL, &mp);
 * // rv == 0, mp.present == (SMTP_MAIL_SIZE | SMTP_MAIL_BODY), mp.size == 1000
 * s = "SIZE=10k";
 * rv = smtp_mail_params_parse(s, strlen(s), NULL, &mp);
 * // rv == SMTP_ERR_SYNTAX, mp.fault.reply_code == 501: answer "501 5.5.4 " mp.fault.text
 * @endcode
 *
 * @param version  The version of smtp_params_opts the caller uses (SMTP_PARAMS_OPTS_VERSION).
 * @param s        The parameter string, `len` octets; need not be NUL-terminated. May be NULL
 *                 when `len` is 0. The spans of `*out` borrow it.
 * @param len      The length of `s` in octets.
 * @param opts     The options, read in place during the call; NULL for the defaults of
 *                 smtp_params_opts_init.
 * @param out      Receives the parameters; cleared first.
 * @return 0 on success, or one of these negative error codes:
 * @retval SMTP_ERR_SYNTAX A malformed list or value, a value where none is allowed or none
 *         where one is needed (501); an unknown or disabled parameter refused, including
 *         BODY=8BITMIME or BODY=BINARYMIME when its extension is not enabled (555).
 * @retval SMTP_ERR_OVERFLOW SIZE above 2^64-1 or longer than 20 digits, HOLDFOR or BY time
 *         longer than 9 digits, MT-PRIORITY outside -9..9 (501).
 * @retval SMTP_ERR_TOO_LONG ENVID over 100 characters (RFC 3461 4.4) (501).
 * @retval SMTP_ERR_XTEXT ENVID or AUTH is not valid xtext (501).
 * @retval SMTP_ERR_UTF8 UTF-8 in a value without SMTPUTF8, or malformed UTF-8 (501).
 * @retval SMTP_ERR_DUPLICATE A parameter given twice, or both HOLDFOR and HOLDUNTIL (501).
 * @retval SMTP_ERR_CALLBACK_FAILURE The unknown-parameter callback returned a negative value.
 * @retval SMTP_ERR_INVALID_ARGUMENT `out` is NULL, `s` is NULL with `len` > 0, or `version`
 *         is one this library lacks.
 */
SMTP_API int smtp_mail_params_parse_versioned(int version, const char *s, size_t len,
                                              const smtp_params_opts *opts,
                                              smtp_mail_params *out);

/**
 * smtp_rcpt_params_parse parses the parameters of RCPT TO with this header's version of
 * smtp_params_opts.
 *
 * See smtp_rcpt_params_parse_versioned.
 */
#define smtp_rcpt_params_parse(s, len, opts, out)                                                  \
    smtp_rcpt_params_parse_versioned(SMTP_PARAMS_OPTS_VERSION, (s), (len), (opts), (out))
/**
 * smtp_rcpt_params_parse_versioned parses the parameters of RCPT TO (everything after the
 * path) into `*out`, reading `opts` as the version of smtp_params_opts the caller uses.
 *
 * Keywords are case-insensitive, as are NOTIFY's items, ORCPT's type and RRVS's mode. As for
 * MAIL, on an error other than SMTP_ERR_INVALID_ARGUMENT `out->fault` says which parameter
 * failed, why, and the reply code. UTF-8 is allowed in values only when `opts->smtputf8` is
 * set (the transaction's MAIL carried SMTPUTF8). Call it through the macro
 * smtp_rcpt_params_parse.
 *
 * @param version  The version of smtp_params_opts the caller uses (SMTP_PARAMS_OPTS_VERSION).
 * @param s        The parameter string, `len` octets; need not be NUL-terminated. May be NULL
 *                 when `len` is 0. The spans of `*out` borrow it.
 * @param len      The length of `s` in octets.
 * @param opts     The options, read in place during the call; NULL for the defaults of
 *                 smtp_params_opts_init.
 * @param out      Receives the parameters; cleared first.
 * @return 0 on success, or one of these negative error codes:
 * @retval SMTP_ERR_SYNTAX A malformed list or value, a value where none is allowed or none
 *         where one is needed, a NOTIFY list with NEVER and another item or an unknown or
 *         empty item, an ORCPT without "type;address" (an atom, then a non-empty address),
 *         an RRVS that is not a date-time with an optional ";C" or ";R" (501); an unknown or
 *         disabled parameter refused (555).
 * @retval SMTP_ERR_TOO_LONG An ORCPT value over 500 characters (RFC 3461 4.2) (501).
 * @retval SMTP_ERR_XTEXT An ORCPT address that is not valid xtext (utf-8-addr-xtext for the
 *         type "utf-8") (501).
 * @retval SMTP_ERR_UTF8 UTF-8 in a value without `opts->smtputf8`, malformed UTF-8, or raw
 *         UTF-8 in an ORCPT address of a type other than "utf-8" (501).
 * @retval SMTP_ERR_DUPLICATE A parameter given twice, or a NOTIFY item repeated (501).
 * @retval SMTP_ERR_CALLBACK_FAILURE The unknown-parameter callback returned a negative value.
 * @retval SMTP_ERR_INVALID_ARGUMENT `out` is NULL, `s` is NULL with `len` > 0, or `version`
 *         is one this library lacks.
 */
SMTP_API int smtp_rcpt_params_parse_versioned(int version, const char *s, size_t len,
                                              const smtp_params_opts *opts,
                                              smtp_rcpt_params *out);

/**
 * smtp_datetime_parse parses an RFC 3339 5.6 date-time and stores in `*utc` the seconds since
 * 1970-01-01T00:00:00Z.
 *
 * The form is "2024-02-29T12:00:00.5+01:00": 'T' and 'Z' in either case; seconds 00-60 for a
 * leap second; days checked against the month and leap years; fractions of a second are
 * accepted and dropped.
 *
 * @param s    The date-time, `len` octets and nothing else; need not be NUL-terminated. May
 *             be NULL when `len` is 0.
 * @param len  The length of `s` in octets.
 * @param utc  Receives the time in seconds since the epoch; untouched on error.
 * @return 0 on success, or one of these negative error codes:
 * @retval SMTP_ERR_SYNTAX Not a date-time of that form with nothing after it: a field out of
 *         its range (a day the month lacks, an offset over 23:59) or a '.' without digits.
 * @retval SMTP_ERR_INVALID_ARGUMENT `s` is NULL with `len` > 0, or `utc` is NULL.
 */
SMTP_API int smtp_datetime_parse(const char *s, size_t len, int64_t *utc);

#ifdef __cplusplus
}
#endif

#endif /* SMTP_PARAMS_H */
