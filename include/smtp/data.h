/* SPDX-License-Identifier: MIT */
/** @file
 * libsmtp — DATA transparency (RFC 5321 4.5.2 and 4.1.1.4): the server's unstuffing decoder and
 * the client's stuffing encoder, both streaming over chunks of any size.
 *
 * End of data is CRLF "." CRLF and nothing else (SMTP smuggling, CVE-2023-51764/51765/51766).
 * A line starts only after CRLF (or at the start of data): a bare LF or a bare CR never ends a
 * line for dot-unstuffing nor for the end of data, whatever the bare LF/CR policy says about
 * the bytes themselves.
 *
 * Both state objects are small public structs so that an engine can embed them without an
 * allocation; their fields are private (use the functions below, never the fields).
 */
#ifndef SMTP_DATA_H
#define SMTP_DATA_H

#include <smtp/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Decoder (server side) ---- */

/**
 * What the decoder does with a bare LF (an LF not preceded by CR) or a bare CR (a CR not
 * followed by LF) in the content. In every policy the content is consumed up to the real
 * CRLF.CRLF, the decoder flags what it saw (smtp_data_decoder_flags), and a bare LF/CR never
 * starts a line: a '.' after it is an ordinary byte and "\n.\n", "\n.\r\n" or "\r\n.\n" never
 * end the data.
 */
typedef enum smtp_data_policy {
    /**
     * The default. Bytes are delivered unchanged (as with ALLOW) and the decoder sets
     * SMTP_DATA_FLAG_REJECT: the server must refuse the message (5xx, e.g. 550 5.6.0) once the
     * end of data has been read, so that the stream stays in sync.
     */
    SMTP_DATA_BARE_REJECT = 0,
    /** A bare LF and a bare CR are each delivered as CRLF (the message is accepted). */
    SMTP_DATA_BARE_NORMALIZE = 1,
    /** Bare LF and bare CR are kept as data bytes. */
    SMTP_DATA_BARE_ALLOW = 2
} smtp_data_policy;

/** Flags of smtp_data_decoder_flags: what the decoder has seen since smtp_data_decoder_init. */
#define SMTP_DATA_FLAG_BARE_LF 0x1u /**< an LF not preceded by CR */
#define SMTP_DATA_FLAG_BARE_CR 0x2u /**< a CR not followed by LF */
#define SMTP_DATA_FLAG_LONG_LINE                                                                   \
    0x4u /**< a line over 1000 octets with its CRLF (RFC 5321 4.5.3.1.6) */
#define SMTP_DATA_FLAG_REJECT 0x8u /**< policy REJECT and a bare LF or CR was seen */

/** The longest line RFC 5321 4.5.3.1.6 allows, CRLF included, stuffed dot excluded. */
#define SMTP_DATA_MAX_LINE 1000

/** Results of smtp_data_decode (a negative value is an SMTP_ERR_* code). */
typedef enum smtp_data_event {
    SMTP_DATA_NEED_INPUT = 0, /**< all of the input was consumed; feed more */
    SMTP_DATA_CONTENT = 1,    /**< *out holds message content; call again with the rest */
    SMTP_DATA_END = 2         /**< CRLF.CRLF was read: the message is complete */
} smtp_data_event;

/**
 * The unstuffing decoder. Fields are private. Embed it anywhere, set it up with
 * smtp_data_decoder_init before each message; it owns no memory and needs no cleanup.
 */
typedef struct smtp_data_decoder {
    uint64_t size_;       /**< decoded octets delivered */
    uint64_t line_start_; /**< decoded offset where the current line began */
    unsigned char state_;
    unsigned char policy_;
    unsigned char flags_;
} smtp_data_decoder;

/**
 * smtp_data_decoder_init prepares `dec` for the bytes that follow a 354 reply.
 *
 * The start of data counts as the start of a line, so ".\r\n" at once is an empty message.
 * Call it before each message: it also sets the size and the flags back to 0.
 *
 * @param dec     The decoder, owned by the caller (embedded anywhere). A NULL `dec` is ignored.
 * @param policy  What to do with a bare LF or bare CR, an smtp_data_policy; an unknown value is
 *                treated as SMTP_DATA_BARE_REJECT.
 */
SMTP_API void smtp_data_decoder_init(smtp_data_decoder *dec, smtp_data_policy policy);

/**
 * smtp_data_decode reads the DATA stream in `data`/`len` (any chunking) and reports one thing
 * per call.
 *
 * The caller passes the rest of `data` that the call did not consume (plus any new bytes) to
 * the next call.
 *
 * Each piece `*out` delivered with SMTP_DATA_CONTENT is non-empty. It points into `data` (zero
 * copy) or, for a held CR (a CRLF split across chunks, or a bare CR) or a normalized bare
 * LF/CR, at static storage. Valid until `data` changes. A span ends where a stuffed dot is
 * removed, at a chunk edge, or before an inserted/held byte. The delivered content ends with
 * the CRLF of the last line (RFC 5321 4.1.1.4).
 *
 * @code
 * // after smtp_data_decoder_init(&dec, SMTP_DATA_BARE_REJECT), for each chunk buf/len read:
 * smtp_span piece;
 * size_t used;
 * int ev;
 * while ((ev = smtp_data_decode(&dec, buf, len, &piece, &used)) == SMTP_DATA_CONTENT) {
 *     fwrite(piece.ptr, 1, piece.len, spool);
 *     buf += used, len -= used;
 * }
 * buf += used, len -= used; // NEED_INPUT: len is 0; END: buf/len start the next command
 * @endcode
 *
 * @param dec       The decoder, set up by smtp_data_decoder_init.
 * @param data      The bytes read after the 354 reply, `len` octets: the rest the previous
 *                  call did not consume, then any new bytes. May be NULL when `len` is 0.
 * @param len       The length of `data` in octets.
 * @param out       Receives, with SMTP_DATA_CONTENT, the next piece of the message content;
 *                  left unchanged otherwise.
 * @param consumed  Receives, on every call, the number of bytes of `data` used; it may be 0 (it
 *                  is 0 on error).
 * @return An smtp_data_event (>= 0), or a negative error code:
 * @retval SMTP_DATA_CONTENT `*out` is the next piece of the message content; call again with
 *         the rest of `data`.
 * @retval SMTP_DATA_NEED_INPUT Everything was consumed and nothing more can be delivered (the
 *         last bytes may be held: a CR or a line-start "." or ".\r" whose meaning the next
 *         byte decides); call again with more bytes.
 * @retval SMTP_DATA_END CRLF "." CRLF was read; *consumed ends right after its LF, so the bytes
 *         after it in `data` are the next command. Re-initialize before the next message.
 * @retval SMTP_ERR_INVALID_ARGUMENT `dec`, `out` or `consumed` is NULL, or `data` is NULL with
 *         a non-zero `len`.
 * @retval SMTP_ERR_INVALID_STATE Called again after SMTP_DATA_END without
 *         smtp_data_decoder_init.
 */
SMTP_API int smtp_data_decode(smtp_data_decoder *dec, const char *data, size_t len, smtp_span *out,
                              size_t *consumed);

/**
 * smtp_data_decoder_size returns the number of content octets delivered so far.
 *
 * @param dec  The decoder; may be NULL.
 * @return The octets delivered with SMTP_DATA_CONTENT since smtp_data_decoder_init (stuffed
 *         dots excluded), or 0 for a NULL `dec`.
 */
SMTP_API uint64_t smtp_data_decoder_size(const smtp_data_decoder *dec);

/**
 * smtp_data_decoder_flags returns the SMTP_DATA_FLAG_* bits seen so far.
 *
 * @param dec  The decoder; may be NULL.
 * @return The bits seen since smtp_data_decoder_init (sticky: a bit once set stays set), or 0
 *         for a NULL `dec`.
 */
SMTP_API unsigned smtp_data_decoder_flags(const smtp_data_decoder *dec);

/* ---- Encoder (client side) ---- */

/** What the encoder produces: the body of DATA, of BDAT, or of BDAT with BINARYMIME. */
typedef enum smtp_data_encode_mode {
    /**
     * DATA (RFC 5321 4.5.2): a '.' at the start of a line is doubled, a bare LF and a bare CR
     * become CRLF, and smtp_data_encode_finish writes the CRLF.CRLF end (adding the CRLF of
     * the last line when the body did not end with one).
     */
    SMTP_DATA_ENCODE_DOT = 0,
    /** BDAT (RFC 3030): bare LF and bare CR become CRLF; no stuffing, no end marker. */
    SMTP_DATA_ENCODE_CRLF = 1,
    /** BDAT with BODY=BINARYMIME (RFC 3030 3): bytes are copied unchanged. */
    SMTP_DATA_ENCODE_RAW = 2
} smtp_data_encode_mode;

/**
 * The worst-case output of one smtp_data_encode call for `in_len` input bytes, in every mode:
 * 2 * in_len + 1 (every byte may double, and a CR held from the previous call may complete
 * first), saturated at SIZE_MAX.
 */
#define SMTP_DATA_ENCODE_BOUND(in_len)                                                             \
    ((in_len) > (SIZE_MAX - 1) / 2 ? SIZE_MAX : 2 * (size_t)(in_len) + 1)

/** The most smtp_data_encode_finish ever writes ("\r\n.\r\n"). */
#define SMTP_DATA_ENCODE_FINISH_MAX 5

/**
 * An output buffer of this many bytes always lets smtp_data_encode make progress: the encoder
 * writes in indivisible units of at most 2 bytes ("\r\n" or "..").
 */
#define SMTP_DATA_ENCODE_MIN_OUT 2

/** The stuffing encoder. Fields are private; it owns no memory and needs no cleanup. */
typedef struct smtp_data_encoder {
    unsigned char state_;
    unsigned char mode_;
} smtp_data_encoder;

/**
 * smtp_data_encoder_init prepares `enc` for one message body in `mode`.
 *
 * Call it before each body; the body starts at the start of a line.
 *
 * @param enc   The encoder, owned by the caller (embedded anywhere). A NULL `enc` is ignored.
 * @param mode  An smtp_data_encode_mode; an unknown value is treated as SMTP_DATA_ENCODE_DOT.
 */
SMTP_API void smtp_data_encoder_init(smtp_data_encoder *enc, smtp_data_encode_mode mode);

/**
 * smtp_data_encode_bound returns an output capacity with which one smtp_data_encode call
 * always consumes all of `in_len` input bytes.
 *
 * @param in_len  The number of input bytes.
 * @return SMTP_DATA_ENCODE_BOUND(`in_len`): 2 * `in_len` + 1, saturated at SIZE_MAX.
 */
SMTP_API size_t smtp_data_encode_bound(size_t in_len);

/**
 * smtp_data_encode encodes the body bytes `in`/`in_len` into `out`/`out_cap`, as much of them
 * as fits.
 *
 * Any chunking works (writes of one byte are fine): the caller sends the output and calls again
 * with the unconsumed input, and concatenating every call's output gives the encoded stream.
 * The output is never split inside a ".." nor inside the "\r\n" written for a CRLF or a bare
 * LF of the input. A CR at the end of the input, or followed by a byte other than LF, is
 * written at once, and its LF (the input's own, or the one that makes a bare CR into CRLF) may
 * come in the next call's output or from smtp_data_encode_finish.
 *
 * @code
 * smtp_data_encoder enc;
 * smtp_data_encoder_init(&enc, SMTP_DATA_ENCODE_DOT);
 * char out[4096];
 * size_t used, n;
 * while (len > 0 && smtp_data_encode(&enc, body, len, out, sizeof out, &used, &n) == 0) {
 *     fwrite(out, 1, n, peer);
 *     body += used, len -= used;
 * }
 * if (smtp_data_encode_finish(&enc, out, sizeof out, &n) == 0)
 *     fwrite(out, 1, n, peer); // the end of data, CRLF "." CRLF
 * @endcode
 *
 * @param enc       The encoder, set up by smtp_data_encoder_init.
 * @param in        The body bytes, `in_len` octets; any byte values. May be NULL when `in_len`
 *                  is 0.
 * @param in_len    The length of `in` in octets; 0 writes nothing.
 * @param out       The caller's buffer, `out_cap` octets; receives the encoded bytes. May be
 *                  NULL when `out_cap` is 0.
 * @param out_cap   The size of `out` in octets: SMTP_DATA_ENCODE_BOUND(`in_len`) takes all of
 *                  `in` in one call, SMTP_DATA_ENCODE_MIN_OUT always makes progress.
 * @param consumed  Receives the number of input bytes used (0 on error). It may be 0 on
 *                  success, when the call wrote only the LF after a CR of the previous call.
 * @param produced  Receives the number of bytes written to `out` (0 on error).
 * @return 0 on success, or one of these negative error codes:
 * @retval SMTP_ERR_NOBUF `in_len` > 0 but `out_cap` could not hold the next unit; nothing was
 *         consumed nor written (an `out_cap` of SMTP_DATA_ENCODE_MIN_OUT or more never fails
 *         so).
 * @retval SMTP_ERR_INVALID_ARGUMENT A NULL `enc`, `consumed` or `produced`, or a NULL `in` or
 *         `out` with a non-zero length.
 * @retval SMTP_ERR_INVALID_STATE Called after smtp_data_encode_finish succeeded.
 */
SMTP_API int smtp_data_encode(smtp_data_encoder *enc, const char *in, size_t in_len, char *out,
                              size_t out_cap, size_t *consumed, size_t *produced);

/**
 * smtp_data_encode_finish ends the body with what its mode needs after the last byte.
 *
 * In DOT mode it writes the end of data, exactly one CRLF "." CRLF: ".\r\n" after an empty
 * body or one ending with CRLF (or a bare LF, written as CRLF), "\n.\r\n" after one ending with
 * a CR (whose CRLF it completes), "\r\n.\r\n" otherwise. In CRLF mode it completes a body
 * ending with a bare CR ("\n"); in RAW mode it writes nothing. At most
 * SMTP_DATA_ENCODE_FINISH_MAX bytes. After it the encoder takes nothing more until
 * smtp_data_encoder_init.
 *
 * @param enc       The encoder, set up by smtp_data_encoder_init.
 * @param out       The caller's buffer, `out_cap` octets; receives the final bytes. May be NULL
 *                  when `out_cap` is 0.
 * @param out_cap   The size of `out` in octets; SMTP_DATA_ENCODE_FINISH_MAX is always enough.
 * @param produced  Receives the number of bytes written to `out` (0 on error).
 * @return 0 on success, or one of these negative error codes:
 * @retval SMTP_ERR_NOBUF `out_cap` is too small; nothing was written: call again with more
 *         room.
 * @retval SMTP_ERR_INVALID_ARGUMENT A NULL `enc` or `produced`, or a NULL `out` with a non-zero
 *         `out_cap`.
 * @retval SMTP_ERR_INVALID_STATE Already finished; re-initialize for the next body.
 */
SMTP_API int smtp_data_encode_finish(smtp_data_encoder *enc, char *out, size_t out_cap,
                                     size_t *produced);

#ifdef __cplusplus
}
#endif

#endif /* SMTP_DATA_H */
