/* SPDX-License-Identifier: MIT */
/** @file
 * libsmtp — common definitions shared by every part of the library:
 * the export macro, spans, the allocator, the size type, the error codes and the conventions.
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

/**
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

/**
 * smtp_ssize is the signed size returned by stream functions: bytes consumed or produced
 * (>= 0), or a negative SMTP_ERR_* code. It is ptrdiff_t, a standard C type (not POSIX ssize_t).
 */
typedef ptrdiff_t smtp_ssize;

/**
 * smtp_span is a borrowed run of bytes: `len` bytes at `ptr`, not NUL-terminated. A span
 * passed to a callback is valid only during that callback.
 */
typedef struct smtp_span {
    const char *ptr; /**< the first byte */
    size_t len;      /**< the number of bytes */
} smtp_span;

/**
 * smtp_mem is a custom allocator. Every allocation libsmtp makes goes through it. Each
 * function receives `user_data` from this struct as its last parameter. All four functions
 * must be set; they follow the contracts of malloc, free, calloc and realloc.
 * Functions taking a `const smtp_mem *` accept NULL for smtp_mem_default().
 */
typedef struct smtp_mem {
    /** Passed as the last argument of each function below. */
    void *user_data;
    /**
     * Allocates `size` bytes, as malloc.
     *
     * @param size       The number of bytes wanted.
     * @param user_data  The `user_data` of this struct.
     * @return The memory, or NULL when it cannot be allocated.
     */
    void *(*malloc)(size_t size, void *user_data);
    /**
     * Frees memory from this allocator, as free.
     *
     * @param ptr        Memory returned by this struct's malloc, calloc or realloc, or NULL.
     * @param user_data  The `user_data` of this struct.
     */
    void (*free)(void *ptr, void *user_data);
    /**
     * Allocates `nmemb` * `size` bytes set to zero, as calloc.
     *
     * @param nmemb      The number of elements.
     * @param size       The size of one element in bytes.
     * @param user_data  The `user_data` of this struct.
     * @return The memory, or NULL when it cannot be allocated (also when `nmemb` * `size`
     *         overflows).
     */
    void *(*calloc)(size_t nmemb, size_t size, void *user_data);
    /**
     * Resizes memory from this allocator to `size` bytes, as realloc.
     *
     * @param ptr        Memory returned by this struct's malloc, calloc or realloc, or NULL (then
     *                   it allocates, as malloc).
     * @param size       The new size in bytes.
     * @param user_data  The `user_data` of this struct.
     * @return The resized memory, or NULL when it cannot be resized (`ptr` then stays valid).
     */
    void *(*realloc)(void *ptr, size_t size, void *user_data);
} smtp_mem;

/**
 * smtp_mem_default returns the allocator backed by the C library's malloc family.
 *
 * @return The allocator, in static storage; never NULL. Its `user_data` is NULL.
 */
SMTP_API const smtp_mem *smtp_mem_default(void);

/**
 * Cryptographic functions for the SASL mechanisms that need them: the client's
 * (smtp_client_settings.crypto, there named smtp_client_crypto) and the server's built-in
 * CRAM-MD5 and SCRAM-SHA-256 (smtp_server_settings.crypto). The engines hold no cryptography
 * of their own; the application supplies it, e.g. mbedTLS's with smtp_tls_crypto()
 * (<smtp/tls.h>). Each function returns 0, or a negative value when it failed: the engine's
 * feeding call then returns SMTP_ERR_CALLBACK_FAILURE, as for a callback.
 */
typedef struct smtp_crypto {
    /**
     * hmac_md5 computes HMAC-MD5 (RFC 2104) of msg[0..len) under key[0..keylen): 16 octets to
     * out.
     *
     * @param key     The key (CRAM-MD5: the password), `keylen` octets.
     * @param keylen  The length of `key` in octets.
     * @param msg     The message (CRAM-MD5: the server's challenge, decoded), `len` octets.
     * @param len     The length of `msg` in octets.
     * @param out     Receives the 16 octets of the MAC.
     * @param ctx     smtp_crypto.ctx.
     * @return 0, or a negative value when it failed.
     */
    int (*hmac_md5)(const unsigned char *key, size_t keylen, const unsigned char *msg, size_t len,
                    unsigned char *out, void *ctx);
    /**
     * hmac_sha256 computes HMAC-SHA-256 (RFC 2104, FIPS 180-4) of msg under key: 32 octets to
     * out.
     *
     * @param key     The key, `keylen` octets.
     * @param keylen  The length of `key` in octets.
     * @param msg     The message, `len` octets.
     * @param len     The length of `msg` in octets.
     * @param out     Receives the 32 octets of the MAC.
     * @param ctx     smtp_crypto.ctx.
     * @return 0, or a negative value when it failed.
     */
    int (*hmac_sha256)(const unsigned char *key, size_t keylen, const unsigned char *msg,
                       size_t len, unsigned char *out, void *ctx);
    /**
     * sha256 computes SHA-256 of msg[0..len): 32 octets to out.
     *
     * @param msg  The message, `len` octets.
     * @param len  The length of `msg` in octets.
     * @param out  Receives the 32 octets of the digest.
     * @param ctx  smtp_crypto.ctx.
     * @return 0, or a negative value when it failed.
     */
    int (*sha256)(const unsigned char *msg, size_t len, unsigned char *out, void *ctx);
    /**
     * random fills buf[0..len) with bytes from a cryptographically secure generator (SCRAM's
     * nonces, CRAM-MD5's challenge).
     *
     * @param buf  Receives the random octets.
     * @param len  How many octets to write to `buf`.
     * @param ctx  smtp_crypto.ctx.
     * @return 0, or a negative value when it failed.
     */
    int (*random)(unsigned char *buf, size_t len, void *ctx);
    void *ctx; /**< passed last to each function */
} smtp_crypto;

/**
 * A callback returns SMTP_PAUSE (where its documentation allows it) to make the feeding call
 * return at once, having consumed the bytes of the event just reported and nothing after them.
 */
#define SMTP_PAUSE 1

/**
 * SMTP_WARN_UNUSED marks a function whose result must be used: one that may do less than it
 * was asked (take fewer bytes than given) or that reports an outcome the caller must act on.
 */
#if defined(__GNUC__) || defined(__clang__)
#define SMTP_WARN_UNUSED __attribute__((warn_unused_result))
#else
#define SMTP_WARN_UNUSED
#endif

/**
 * The error codes, one list (name, value, description) from which the enum, smtp_error_name
 * and smtp_error_text are generated. Every error is negative; 0 is success. The groups:
 *  - misuse by the caller, or "not now" (-1 .. -99): the call did nothing;
 *  - resource failures (-100 .. -199);
 *  - protocol violations by the peer, reported by stream objects (-200 .. -299);
 *  - syntax errors in a single element handed to a parse function (-300 .. -399).
 * A stream object (parser, engine) that returned a resource or protocol error from a call stays
 * in that error: every later feeding call returns the same code ("sticky"); see
 * smtp_error_is_fatal.
 */
#define SMTP_ERROR_MAP(X)                                                                          \
    X(OK, 0, "success")                                                                            \
    /* Caller misuse, or not now. */                                                               \
    X(ERR_INVALID_ARGUMENT, -1, "invalid argument")                                                \
    X(ERR_UNSAFE_ARGUMENT, -2, "argument holds CR, LF, NUL or a control byte")                     \
    X(ERR_NOBUF, -3, "output buffer too small")                                                    \
    X(ERR_INVALID_STATE, -4, "call not allowed in this state")                                     \
    X(ERR_AGAIN, -5, "nothing available now; try again later")                                     \
    /* Resources. */                                                                               \
    X(ERR_NOMEM, -100, "out of memory")                                                            \
    X(ERR_CALLBACK_FAILURE, -101, "a callback failed")                                             \
    /* Peer protocol violations (stream objects). */                                               \
    X(ERR_PROTO, -200, "protocol violation by the peer")                                           \
    X(ERR_LINE_TOO_LONG, -201, "line too long")                                                    \
    X(ERR_BARE_LF, -202, "bare LF (not preceded by CR)")                                           \
    X(ERR_BARE_CR, -203, "bare CR (not followed by LF)")                                           \
    X(ERR_NUL, -204, "NUL byte")                                                                   \
    X(ERR_REPLY_CODE, -205, "reply line without a valid 2xx-5xx code")                             \
    X(ERR_REPLY_MISMATCH, -206, "continuation line with a different reply code")                   \
    X(ERR_REPLY_TOO_LONG, -207, "multi-line reply has too many lines")                             \
    X(ERR_REPLY_SEPARATOR, -208, "reply code followed by a byte other than SP, '-' or CRLF")       \
    /* Syntax errors of parse functions. */                                                        \
    X(ERR_SYNTAX, -300, "syntax error")                                                            \
    X(ERR_TOO_LONG, -301, "element exceeds its length limit")                                      \
    X(ERR_OVERFLOW, -302, "number out of range")                                                   \
    X(ERR_UTF8, -303, "malformed or disallowed UTF-8")                                             \
    X(ERR_XTEXT, -304, "malformed xtext or xtext decoding to a control byte")                      \
    X(ERR_BASE64, -305, "malformed base64")                                                        \
    X(ERR_DUPLICATE, -306, "parameter given more than once")

/** The error codes: SMTP_OK, SMTP_ERR_INVALID_ARGUMENT... (SMTP_ERROR_MAP). */
typedef enum smtp_error {
#define SMTP_ERROR_ENUM(name, value, text) SMTP_##name = value,
    SMTP_ERROR_MAP(SMTP_ERROR_ENUM)
#undef SMTP_ERROR_ENUM
} smtp_error;

/**
 * smtp_error_name returns the enumerator name of the error code `err`.
 *
 * @param err  An smtp_error value, or any other int.
 * @return The name, as "SMTP_ERR_NOMEM" for SMTP_ERR_NOMEM and "SMTP_OK" for 0, or
 *         "SMTP_ERR_UNKNOWN" for a value that is not an smtp_error. Never NULL; static storage.
 */
SMTP_API const char *smtp_error_name(int err);

/**
 * smtp_error_text returns a one-line English description of the error code `err`.
 *
 * @param err  An smtp_error value, or any other int.
 * @return The description ("out of memory" for SMTP_ERR_NOMEM), or "unknown error" for a value
 *         that is not an smtp_error. Never NULL; static storage.
 */
SMTP_API const char *smtp_error_text(int err);

/**
 * smtp_error_is_fatal tells whether `err`, returned by a call on an object (an engine, a
 * parser, an adapter's connection), means the object has failed for good.
 *
 * After a fatal error every later call on the object returns the same error, so close the
 * connection and delete the object.
 *
 * @param err  The value a call returned (any int).
 * @return 1 for resource failures and peer protocol violations (-100 .. -299); 0 for success,
 *         caller misuse (the call did nothing: fix the call), SMTP_ERR_NOBUF and SMTP_ERR_AGAIN
 *         (try again), syntax errors of parse functions (about one element, not an object)
 *         and any value that is not an smtp_error.
 */
SMTP_API int smtp_error_is_fatal(int err);

/*
 * Versioned structs (the ABI rule of 1.0). Each settings or callbacks struct has a version
 * macro (SMTP_CLIENT_SETTINGS_VERSION...) that grows by one whenever fields are added, always
 * at the end. The functions that take such a struct have a `_versioned` entry point that also
 * takes the version the caller was compiled with, and a macro of the plain name passing the
 * current version: a program built against an older header keeps working with a newer
 * library, which reads only the fields that version had and gives the later ones their
 * defaults. Call the plain names; the `_versioned` ones exist for that macro and for language
 * bindings. An unknown version makes a `_new` function return SMTP_ERR_INVALID_ARGUMENT and a
 * `_settings_init` function do nothing.
 * Versioned: the settings and callbacks of the engines (smtp_client_*, smtp_server_*) and of
 * the parsers (smtp_reply_*, smtp_cmd_*), smtp_client_message, smtp_tls_settings and
 * smtp_tls_dane (with smtp_tls_tlsa, the records it points to), smtp_io_settings,
 * smtp_io_loop_settings and smtp_params_opts.
 * smtp_client_crypto has no version of its own: it is reached only through
 * smtp_client_settings.crypto, so a field added to it comes with a new
 * SMTP_CLIENT_SETTINGS_VERSION, and smtp_client_new copies only the crypto fields that the
 * caller's settings version had.
 */

#ifdef __cplusplus
}
#endif

#endif /* SMTP_COMMON_H */
