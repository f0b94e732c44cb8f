/* SPDX-License-Identifier: MIT */
/*
 * The -v transcript (transcript.h). Each direction keeps whether it is inside a line and
 * whether its last byte was a CR, so a CRLF split between two reads still ends one line.
 * Lines of the two directions never interleave: a line of one side that is still open when
 * the other side speaks is ended first (shown with a trailing "\" so it is not taken for a
 * complete line).
 *
 * BDAT (RFC 3030 2): when a client line "BDAT n" or "BDAT n LAST" ends, the next n client
 * octets are chunk data whatever they hold; they are counted, not printed, and summarised
 * when the chunk is complete or when something else must be printed first.
 *
 * DATA content (ex_transcript_summarize_data): after a server line with code 354, the client's
 * octets up to CRLF.CRLF are counted and summarised, and the dot is shown alone.
 *
 * Masking AUTH (RFC 4954 4): a client line starting "AUTH " (case-blind) opens the exchange;
 * what follows its mechanism is hidden, and so is every client line until the server answers
 * with a code other than 334 (the end of the exchange: 235, 535, 501...).
 */
#include "transcript.h"

#include <string.h>
#include <strings.h>

void ex_transcript_init(ex_transcript *t, FILE *out, const char *tag)
{
    t->out = out;
    t->tag = tag != NULL ? tag : "";
    for (int i = 0; i < 2; i++)
        t->side[i].mid_line = t->side[i].pending_cr = 0;
    t->head_len = 0;
    t->bdat_left = t->bdat_unshown = 0;
    t->mask_auth = t->in_auth = t->mask_line = t->mask_shown = 0;
    t->shead_len = 0;
    t->summarize_data = t->in_data = t->data_match = 0;
    t->data_unshown = 0;
}

void ex_transcript_summarize_data(ex_transcript *t, int on)
{
    t->summarize_data = on;
}

static void show_data(ex_transcript *t)
{
    if (t->data_unshown == 0) return;
    fprintf(t->out, "%sC: <%llu octet%s of DATA content>\n", t->tag,
            (unsigned long long)t->data_unshown, t->data_unshown == 1 ? "" : "s");
    t->data_unshown = 0;
}

/*
 * A client octet of DATA content: counted, not shown, until the content's end, CRLF "." CRLF
 * (RFC 5321 4.1.1.4; the CRLF before the dot counts as the 354's, for an empty message). The
 * content's octets are summarised, then the dot is shown as its own line. Returns whether the
 * end was reached.
 */
static int data_octet(ex_transcript *t, unsigned char c)
{
    static const char end[] = "\r\n.\r\n";
    if ((char)c == end[t->data_match])
        t->data_match++;
    else
        t->data_match = c == '\r' ? 1 : 0;
    t->data_unshown++;
    if (t->data_match < 5) return 0;
    t->data_unshown -= 3; /* ".\r\n" is the end, not content */
    show_data(t);
    fprintf(t->out, "%sC: .\n", t->tag);
    t->in_data = 0;
    return 1;
}

void ex_transcript_mask_auth(ex_transcript *t, int on)
{
    t->mask_auth = on;
}

static void show_bdat(ex_transcript *t)
{
    if (t->bdat_unshown == 0) return;
    fprintf(t->out, "%sC: <%llu octet%s of BDAT data>\n", t->tag,
            (unsigned long long)t->bdat_unshown, t->bdat_unshown == 1 ? "" : "s");
    t->bdat_unshown = 0;
}

static void break_line(ex_transcript *t, int side)
{
    struct ex_transcript_side *s = &t->side[side];
    if (side == EX_CLIENT) {
        show_bdat(t);
        show_data(t);
    }
    if (s->pending_cr) fputs("\\r", t->out);
    if (s->mid_line) fputs("\\\n", t->out);
    s->mid_line = s->pending_cr = 0;
}

static void start_line(ex_transcript *t, int side)
{
    struct ex_transcript_side *s = &t->side[side];
    if (s->mid_line) return;
    fprintf(t->out, "%s%s", t->tag, side == EX_CLIENT ? "C: " : "S: ");
    s->mid_line = 1;
    if (side == EX_CLIENT) {
        t->head_len = 0;
        t->mask_shown = 0;
        if (t->in_auth) t->mask_line = 1; /* a SASL response */
    } else {
        t->shead_len = 0;
    }
}

/* Whether the client line's head is "AUTH MECH " complete with this byte: the rest is hidden. */
static int auth_head_done(const ex_transcript *t)
{
    if (t->head_len < 7 || t->head[t->head_len - 1] != ' ' || strncasecmp(t->head, "AUTH ", 5) != 0)
        return 0;
    size_t spaces = 0;
    for (size_t i = 0; i < t->head_len; i++)
        spaces += t->head[i] == ' ';
    return spaces == 2;
}

static void put_byte(ex_transcript *t, int side, unsigned char c)
{
    start_line(t, side);
    int grew = 0;
    if (side == EX_CLIENT && t->head_len < sizeof t->head) {
        t->head[t->head_len++] = (char)c;
        grew = 1;
    }
    if (side == EX_SERVER && t->shead_len < sizeof t->shead) t->shead[t->shead_len++] = (char)c;
    if (side == EX_CLIENT && t->mask_auth) {
        if (t->mask_line) {
            if (!t->mask_shown) fputs("****", t->out);
            t->mask_shown = 1;
            return;
        }
        if (grew && auth_head_done(t)) t->mask_line = 1; /* this space shown, the rest not */
    }
    if ((c < 0x20 && c != '\t') || c == 0x7f)
        fprintf(t->out, "\\x%02x", c);
    else
        putc(c, t->out);
}

/* The client line that just ended: "BDAT" SP chunk-size [SP "LAST"] announces chunk data. */
static void client_line_end(ex_transcript *t)
{
    const char *h = t->head;
    t->mask_line = 0;
    if (t->mask_auth && t->head_len >= 5 && strncasecmp(h, "AUTH ", 5) == 0) t->in_auth = 1;
    size_t n = t->head_len, i = 5;
    if (n < 6 || strncasecmp(h, "BDAT ", 5) != 0) return; /* verbs are case-blind (2.4) */
    uint64_t size = 0;
    for (; i < n && h[i] >= '0' && h[i] <= '9'; i++) {
        if (size > (UINT64_MAX - 9) / 10) return;
        size = size * 10 + (uint64_t)(h[i] - '0');
    }
    if (i == 5 || (i < n && !(n - i == 5 && strncasecmp(h + i, " LAST", 5) == 0))) return;
    t->bdat_left = size;
}

void ex_transcript_add(ex_transcript *t, int side, const char *data, size_t len)
{
    if (t->out == NULL || len == 0) return;
    break_line(t, !side);
    struct ex_transcript_side *s = &t->side[side];
    for (size_t i = 0; i < len; i++) {
        if (side == EX_CLIENT && t->in_data) {
            (void)data_octet(t, (unsigned char)data[i]);
            continue;
        }
        if (side == EX_CLIENT && t->bdat_left > 0) {
            uint64_t k = len - i < t->bdat_left ? len - i : t->bdat_left;
            t->bdat_left -= k;
            t->bdat_unshown += k;
            i += (size_t)k - 1;
            if (t->bdat_left == 0) show_bdat(t);
            continue;
        }
        unsigned char c = (unsigned char)data[i];
        if (s->pending_cr) {
            s->pending_cr = 0;
            if (c == '\n') {
                putc('\n', t->out);
                s->mid_line = 0;
                if (side == EX_CLIENT)
                    client_line_end(t);
                else if (t->in_auth && !(t->shead_len == 3 && memcmp(t->shead, "334", 3) == 0))
                    t->in_auth = 0; /* the exchange is over */
                else if (t->summarize_data && t->shead_len == 3 &&
                         memcmp(t->shead, "354", 3) == 0) {
                    t->in_data = 1; /* the content follows */
                    t->data_match = 2;
                }
                continue;
            }
            put_byte(t, side, '\r');
        }
        if (c == '\r') {
            start_line(t, side);
            s->pending_cr = 1;
        } else {
            put_byte(t, side, c);
        }
    }
}

void ex_transcript_note(ex_transcript *t, const char *text)
{
    if (t->out == NULL) return;
    break_line(t, EX_CLIENT);
    break_line(t, EX_SERVER);
    fprintf(t->out, "%s* %s\n", t->tag, text);
}

void ex_transcript_end(ex_transcript *t)
{
    if (t->out == NULL) return;
    break_line(t, EX_CLIENT);
    break_line(t, EX_SERVER);
    fflush(t->out);
}
