/* SPDX-License-Identifier: MIT */
/*
 * The loop's timers: every connection sits in a binary min-heap ordered by its deadline
 * (SMTP_IO_NEVER sorts last), and knows its index in it, so that adding, removing and moving
 * one after its deadline changed cost O(log n) and the next deadline is the root. 10,000 idle
 * connections cost no scan.
 *
 * Each entry is ordered by heap_deadline, the deadline it was placed by, not by the deadline
 * its connection has now: the loop asks for an update after every event a connection handled,
 * and most leave the deadline where it was (nine in ten in smtp-sink under a pipelined load),
 * so an update that finds the two equal has nothing to move and returns at once. The heap
 * stays in order by its own keys whatever a connection's deadline does in between.
 */
#include "io_internal.h"

#include "internal.h"

static void place(smtp_io_heap *h, size_t i, smtp_io_conn *c)
{
    h->items[i] = c;
    c->heap_index = i;
}

static void sift_up(smtp_io_heap *h, size_t i)
{
    smtp_io_conn *c = h->items[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (h->items[parent]->heap_deadline <= c->heap_deadline) break;
        place(h, i, h->items[parent]);
        i = parent;
    }
    place(h, i, c);
}

static void sift_down(smtp_io_heap *h, size_t i)
{
    smtp_io_conn *c = h->items[i];
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= h->len) break;
        if (child + 1 < h->len &&
            h->items[child + 1]->heap_deadline < h->items[child]->heap_deadline)
            child++;
        if (c->heap_deadline <= h->items[child]->heap_deadline) break;
        place(h, i, h->items[child]);
        i = child;
    }
    place(h, i, c);
}

/* Moves the entry at c->heap_index up or down to its place. */
static void resift(smtp_io_heap *h, smtp_io_conn *c)
{
    size_t i = c->heap_index;
    if (i > 0 && h->items[(i - 1) / 2]->heap_deadline > c->heap_deadline)
        sift_up(h, i);
    else
        sift_down(h, i);
}

int smtp_io_heap_reserve(smtp_io_heap *h, const smtp_mem *mem)
{
    if (h->len == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 64;
        smtp_io_conn **items = smtp_realloc(mem, h->items, cap * sizeof *items);
        if (!items) return SMTP_ERR_NOMEM;
        h->items = items;
        h->cap = cap;
    }
    return 0;
}

int smtp_io_heap_push(smtp_io_heap *h, smtp_io_conn *c, const smtp_mem *mem)
{
    if (smtp_io_heap_reserve(h, mem) < 0) return SMTP_ERR_NOMEM;
    c->heap_deadline = c->deadline;
    place(h, h->len++, c);
    sift_up(h, c->heap_index);
    return 0;
}

void smtp_io_heap_remove(smtp_io_heap *h, smtp_io_conn *c)
{
    size_t i = c->heap_index;
    smtp_io_conn *last = h->items[--h->len];
    if (i == h->len) return;
    place(h, i, last);
    resift(h, last); /* its deadline as it was, its place not */
}

void smtp_io_heap_update(smtp_io_heap *h, smtp_io_conn *c)
{
    if (c->deadline == c->heap_deadline) return; /* in its place already */
    c->heap_deadline = c->deadline;
    resift(h, c);
}

void smtp_io_heap_rebuild(smtp_io_heap *h)
{
    /* Floyd's construction: sift every inner node down, the last one first. O(n). */
    for (size_t i = 0; i < h->len; i++)
        h->items[i]->heap_deadline = h->items[i]->deadline;
    for (size_t i = h->len / 2; i-- > 0;)
        sift_down(h, i);
}

void smtp_io_heap_free(smtp_io_heap *h, const smtp_mem *mem)
{
    smtp_free(mem, h->items);
    h->items = NULL;
    h->len = h->cap = 0;
}
