/* SPDX-License-Identifier: MIT */
/*
 * The random generator every session of a config uses (tls_rng), and with mbedTLS 2.28 the
 * comb table of secp256r1's base point lent to each handshake's ECDHE key.
 *
 * 2.28 multiplies a point by the comb method: a table of multiples of the point, then one
 * doubling and one addition per 4 bits of the scalar. For the base point G it keeps the table
 * in the group (mbedtls_ecp_group.T) and uses it again in later multiplications of that group.
 * But a handshake loads a new group for its ECDHE key (mbedtls_ecdh_setup in the ServerKeyExchange
 * step, mbedtls_ecdh_read_params for a client), so the table of G was built again in every
 * handshake: 192 doublings and two inversions, 4.9 million of the 8.5 million instructions of
 * the key (BENCHMARKS.md, part tls). 2.28 has no way to hand a table to that group. The
 * random generator is the one hook: the key's generation asks it for the private key after the
 * group is loaded and before the multiplication looks for the table. So while a session's
 * handshake runs (tls_lender_enter), tls_rng gives a copy of the config's table (made once by
 * tls_table_init, only read afterwards) to the session's ECDHE group when it is secp256r1 and
 * has none yet; mbedTLS frees the copy with the group. The table holds public multiples of G:
 * the multiplication, its blinding and its result are those of a table mbedTLS built itself.
 * The session's ECDHE context is reached through ssl_internal.h, which 2.28 installs; its
 * handshake struct is the same up to ecdh_ctx from 2.28.0 to 2.28.10, and a table is lent
 * only to a group that has none, of the table's curve, loaded.
 * 3.x: not needed here (no such hook is used; the group's layout is private there).
 */
#include "tls_internal.h"

#if defined(SMTP_TLS_LEND_TABLE)
#include <mbedtls/ecdh.h>
#include <mbedtls/platform.h>
#include <mbedtls/ssl_internal.h>
#include <mbedtls/version.h>

/* The session whose handshake this thread runs (tls_lender_enter), NULL between steps. */
static _Thread_local tls_lender *stepping;

int tls_table_init(smtp_tls_config *cfg)
{
#if defined(MBEDTLS_VERSION_C)
    /* The layout reached through ssl_internal.h is the one of the headers compiled against: a
     * library of another branch than those headers (a mismatched install) gets no table lent,
     * and builds its own as it would without this file. */
    if ((mbedtls_version_get_number() & 0xFFFF0000u) != (MBEDTLS_VERSION_NUMBER & 0xFFFF0000u))
        return 0;
#endif
    mbedtls_mpi d;
    mbedtls_ecp_point q;
    mbedtls_mpi_init(&d);
    mbedtls_ecp_point_init(&q);
    /* A key made in the group leaves the table of G there (mbedtls_ecp_mul's comb method). */
    int ret = mbedtls_ecp_group_load(&cfg->table, MBEDTLS_ECP_DP_SECP256R1);
    if (ret == 0)
        ret = mbedtls_ecp_gen_keypair(&cfg->table, &d, &q, mbedtls_ctr_drbg_random, &cfg->drbg);
    mbedtls_ecp_point_free(&q);
    mbedtls_mpi_free(&d);
    if (ret == 0 && cfg->table.T == NULL) ret = MBEDTLS_ERR_ECP_FEATURE_UNAVAILABLE;
    return ret;
}

void tls_table_free(smtp_tls_config *cfg)
{
    mbedtls_ecp_group_free(&cfg->table);
}

int tls_table_lend(const smtp_tls_config *cfg, mbedtls_ecp_group *grp)
{
    const mbedtls_ecp_group *from = &cfg->table;
    /* a group of the table's curve (mbedtls_ecp_group_load sets the id) and without a table */
    if (from->T == NULL || grp->id != from->id || grp->T != NULL) return 0;
    mbedtls_ecp_point *t = mbedtls_calloc(from->T_size, sizeof *t);
    if (!t) return 0; /* mbedTLS builds its own */
    size_t i;
    for (i = 0; i < from->T_size; i++)
        mbedtls_ecp_point_init(&t[i]);
    for (i = 0; i < from->T_size; i++)
        if (mbedtls_ecp_copy(&t[i], &from->T[i]) != 0) break;
    if (i < from->T_size) {
        for (i = 0; i < from->T_size; i++)
            mbedtls_ecp_point_free(&t[i]);
        mbedtls_free(t);
        return 0;
    }
    grp->T = t;
    grp->T_size = from->T_size;
    return 1;
}

/* The group of the session's ECDHE key, NULL outside a handshake. */
static mbedtls_ecp_group *ecdhe_group(mbedtls_ssl_context *ssl)
{
    if (!ssl->handshake) return NULL;
#if defined(MBEDTLS_ECDH_LEGACY_CONTEXT)
    return &ssl->handshake->ecdh_ctx.grp;
#else
    mbedtls_ecdh_context *ctx = &ssl->handshake->ecdh_ctx;
    return ctx->var == MBEDTLS_ECDH_VARIANT_MBEDTLS_2_0 ? &ctx->ctx.mbed_ecdh.grp : NULL;
#endif
}

void tls_lender_enter(tls_lender *l)
{
    stepping = l;
}

void tls_lender_leave(void)
{
    stepping = NULL;
}

int tls_rng(void *p_cfg, unsigned char *out, size_t len)
{
    smtp_tls_config *cfg = p_cfg;
    tls_lender *l = stepping;
    if (l && l->cfg == cfg) {
        mbedtls_ecp_group *grp = ecdhe_group(l->ssl);
        if (grp && tls_table_lend(cfg, grp)) l->lent++;
    }
    return mbedtls_ctr_drbg_random(&cfg->drbg, out, len);
}
#else
int tls_rng(void *p_cfg, unsigned char *out, size_t len)
{
    smtp_tls_config *cfg = p_cfg;
    return mbedtls_ctr_drbg_random(&cfg->drbg, out, len);
}
#endif
