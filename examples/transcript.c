/*
 * The -v transcript (transcript.h). Each direction keeps whether it is inside a line and
 * whether its last byte was a CR, so a CRLF split between two reads still ends one line.
 * Lines of the two directions never interleave: a line of one side that is still open when
 * the other side speaks is ended first (shown with a trailing "\" so it is not taken for a
 * complete line).
 */
#include "transcript.h"

void ex_transcript_init(ex_transcript *t, FILE *out, const char *tag)
{
    t->out = out;
    t->tag = tag != NULL ? tag : "";
    for (int i = 0; i < 2; i++)
        t->side[i].mid_line = t->side[i].pending_cr = 0;
}

static void break_line(ex_transcript *t, int side)
{
    struct ex_transcript_side *s = &t->side[side];
    if (s->pending_cr) fputs("\\r", t->out);
    if (s->mid_line) fputs("\\\n", t->out);
    s->mid_line = s->pending_cr = 0;
}

static void put_byte(ex_transcript *t, int side, unsigned char c)
{
    struct ex_transcript_side *s = &t->side[side];
    if (!s->mid_line) {
        fprintf(t->out, "%s%s", t->tag, side == EX_CLIENT ? "C: " : "S: ");
        s->mid_line = 1;
    }
    if ((c < 0x20 && c != '\t') || c == 0x7f)
        fprintf(t->out, "\\x%02x", c);
    else
        putc(c, t->out);
}

void ex_transcript_add(ex_transcript *t, int side, const char *data, size_t len)
{
    if (t->out == NULL || len == 0) return;
    break_line(t, !side);
    struct ex_transcript_side *s = &t->side[side];
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)data[i];
        if (s->pending_cr) {
            s->pending_cr = 0;
            if (c == '\n') {
                putc('\n', t->out);
                s->mid_line = 0;
                continue;
            }
            put_byte(t, side, '\r');
        }
        if (c == '\r') {
            if (!s->mid_line) {
                fprintf(t->out, "%s%s", t->tag, side == EX_CLIENT ? "C: " : "S: ");
                s->mid_line = 1;
            }
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
