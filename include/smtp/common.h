/* SPDX-License-Identifier: MIT */
/*
 * libsmtp — common definitions shared by every part of the library:
 * the export macro, spans, the allocator, the size type and the error codes.
 *
 * Conventions used by every header of libsmtp:
 *  - Input bytes are `const char *data, size_t len`; they need not be NUL-terminated and may
 *    hold any byte value.
 *  - A function that consumes a stream returns the number of bytes it consumed (>= 0) or a
 *    negative SMTP_ERR_* code, as an smtp_ssize.
 *  - Spans (smtp_span) handed to callbacks borrow the caller's input or an internal buffer and
 *    are valid only while the callback runs. They are never NUL-terminated.
 *  - `user_data` is always the last parameter of a callback.
 *  - A callback returns 0 to continue, SMTP_PAUSE (where documented) to make the feeding call
 *    return right after the current event, or any negative value to fail: the feeding call then
 *    returns SMTP_ERR_CALLBACK_FAILURE and the object is unusable (the error is sticky).
 */
#ifndef SMTP_COMMON_H
#define SMTP_COMMON_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * SMTP_API marks every exported symbol. The library is built with hidden visibility; define
 * SMTP_STATIC when linking the static library on Windows. SMTP_BUILDING is set by the build.
 */
#if defined(_WIN32) || defined(__CYGWIN__)
#if defined(SMTP_STATIC)
#define SMTP_API
#elif defined(SMTP_BUILDING)
#define SMTP_API __declspec(dllexport)
#else
#define SMTP_API __declspec(dllimport)
#endif
#elif defined(__GNUC__) || defined(__clang__)
#define SMTP_API __attribute__((visibility("default")))
#else
#define SMTP_API
#endif

/*
 * smtp_ssize is the signed size returned by stream functions: bytes consumed or produced
 * (>= 0), or a negative SMTP_ERR_* code. It is ptrdiff_t, a standard C type (not POSIX ssize_t).
 */
typedef ptrdiff_t smtp_ssize;

/*
 * smtp_span is a borrowed run of bytes: `len` bytes at `ptr`, not NUL-terminated. A span
 * passed to a callback is valid only during that callback.
 */
typedef struct smtp_span {
    const char *ptr;
    size_t len;
} smtp_span;

/*
 * smtp_mem is a custom allocator. Every allocation libsmtp makes goes through it. Each
 * function receives `user_data` from this struct as its last parameter. All four functions
 * must be set; they follow the contracts of malloc, free, calloc and realloc.
 * Functions taking a `const smtp_mem *` accept NULL for smtp_mem_default().
 */
typedef struct smtp_mem {
    /* Passed as the last argument of each function below. */
    void *user_data;
    void *(*malloc)(size_t size, void *user_data);
    void (*free)(void *ptr, void *user_data);
    void *(*calloc)(size_t nmemb, size_t size, void *user_data);
    void *(*realloc)(void *ptr, size_t size, void *user_data);
} smtp_mem;

/*
 * smtp_mem_default returns the allocator backed by the C library's malloc family.
 * The returned pointer is static and never NULL.
 */
SMTP_API const smtp_mem *smtp_mem_default(void);

/*
 * A callback returns SMTP_PAUSE (where its documentation allows it) to make the feeding call
 * return at once, having consumed the bytes of the event just reported and nothing after them.
 */
#define SMTP_PAUSE 1

/*
 * Error codes. Every error is negative; 0 is success. Errors are grouped:
 *  - misuse by the caller (-1 .. -99): the call did nothing;
 *  - resource failures (-100 .. -199);
 *  - protocol violations by the peer, reported by stream objects (-200 .. -299);
 *  - syntax errors in a single element handed to a parse function (-300 .. -399).
 * A stream object that returned an error from a feeding call stays in that error: every
 * later feeding call returns the same code ("sticky").
 */
typedef enum smtp_error {
    SMTP_OK = 0,

    /* Caller misuse. */
    SMTP_ERR_INVALID_ARGUMENT = -1, /* a NULL pointer, a value out of range, a bad flag */
    SMTP_ERR_UNSAFE_ARGUMENT = -2,  /* an argument to emit holds CR, LF, NUL or a control */
    SMTP_ERR_NOBUF = -3,            /* the output buffer is too small; nothing was written */
    SMTP_ERR_INVALID_STATE = -4,    /* the call is not allowed in the object's state */

    /* Resources. */
    SMTP_ERR_NOMEM = -100,            /* the allocator returned NULL */
    SMTP_ERR_CALLBACK_FAILURE = -101, /* a callback returned a negative value */

    /* Peer protocol violations (stream objects). */
    SMTP_ERR_PROTO = -200,          /* a protocol violation not covered below */
    SMTP_ERR_LINE_TOO_LONG = -201,  /* a line exceeded the configured limit */
    SMTP_ERR_BARE_LF = -202,        /* LF not preceded by CR */
    SMTP_ERR_BARE_CR = -203,        /* CR not followed by LF */
    SMTP_ERR_NUL = -204,            /* a NUL byte where none is allowed */
    SMTP_ERR_REPLY_CODE = -205,     /* a reply line without a valid 2xx-5xx code */
    SMTP_ERR_REPLY_MISMATCH = -206, /* a continuation line with another code */
    SMTP_ERR_REPLY_TOO_LONG = -207, /* a multi-line reply with more lines than allowed */
    SMTP_ERR_REPLY_SEPARATOR = -208, /* a code followed by a byte other than SP, '-' or CRLF */

    /* Syntax errors of parse functions. */
    SMTP_ERR_SYNTAX = -300,     /* the element does not follow its grammar */
    SMTP_ERR_TOO_LONG = -301,   /* the element exceeds an RFC length limit */
    SMTP_ERR_OVERFLOW = -302,   /* a number does not fit its type or its RFC bound */
    SMTP_ERR_UTF8 = -303,       /* malformed UTF-8, or UTF-8 where only ASCII is allowed */
    SMTP_ERR_XTEXT = -304,      /* malformed xtext, or xtext decoding to a control byte */
    SMTP_ERR_BASE64 = -305,     /* malformed base64 */
    SMTP_ERR_DUPLICATE = -306,  /* a parameter given twice */
} smtp_error;

/*
 * smtp_error_name returns the enumerator name of `err` ("SMTP_ERR_NOMEM"), or
 * "SMTP_ERR_UNKNOWN" for a value that is not an smtp_error. Never NULL; static storage.
 */
SMTP_API const char *smtp_error_name(int err);

/*
 * smtp_error_text returns a one-line English description of `err`, or "unknown error".
 * Never NULL; static storage.
 */
SMTP_API const char *smtp_error_text(int err);

#ifdef __cplusplus
}
#endif

#endif /* SMTP_COMMON_H */
