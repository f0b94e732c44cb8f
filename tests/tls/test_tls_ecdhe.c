/* SPDX-License-Identifier: MIT */
/*
 * Tests of the secp256r1 table that a config lends to each handshake's ECDHE key with mbedTLS
 * 2.28 (lib/tls/ecdhe_table.c), white-box (tls_internal.h): a handshake on secp256r1 borrows
 * it on both sides and completes, one on x25519 (the default offer's first) borrows nothing; a
 * key made with a borrowed table is the one a fresh group computes (d times G); a group of
 * another curve, one already holding a table and one not loaded are left alone. With 3.x (no
 * lending) only the handshakes run, and nothing is lent.
 * Usage: test_tls_ecdhe.
 */
#include "tls_internal.h"

#include "check.h"
#include "pair.h"
#include "pki.h"
#include "wire.h"

#include <stdio.h>
#include <string.h>

static test_pki pki;

/* A handshake of a client offering only `curve` (MBEDTLS_ECP_DP_NONE: its whole default list)
 * with a server of the test chain; checks that it completes and that each side borrowed the
 * table `lent` times. */
static void handshake(mbedtls_ecp_group_id curve, unsigned lent)
{
    smtp_tls_config *scfg = pair_server_config(pki.server_chain, pki.server_key, 4096);
    smtp_tls_config *ccfg = pair_client_config(pki.ca, SMTP_TLS_VERIFY_REQUIRED, 4096);
#if MBEDTLS_VERSION_NUMBER < 0x03000000
    static mbedtls_ecp_group_id only[2];
    only[0] = curve;
    only[1] = MBEDTLS_ECP_DP_NONE;
    if (curve != MBEDTLS_ECP_DP_NONE) mbedtls_ssl_conf_curves(&ccfg->conf, only);
#else
    (void)curve;
#endif
    pair p;
    pair_open(&p, ccfg, "localhost", scfg, 300);
    pair_run(&p);
    check_open(&p);
    CHECK_INT((long)tls_tables_lent(p.srv), (long)lent);
    CHECK_INT((long)tls_tables_lent(p.cli), (long)lent);
    /* the keys agree: data goes through both ways */
    char out[] = "EHLO table.test\r\n", in[64];
    CHECK_INT(smtp_tls_write(p.cli, out, sizeof out - 1), (long)sizeof out - 1);
    pair_run(&p);
    CHECK_INT(smtp_tls_read(p.srv, in, sizeof in), (long)sizeof out - 1);
    CHECK(memcmp(in, out, sizeof out - 1) == 0);
    pair_close(&p);
    smtp_tls_config_del(ccfg);
    smtp_tls_config_del(scfg);
}

static void test_handshakes(void)
{
#if defined(SMTP_TLS_LEND_TABLE)
    handshake(MBEDTLS_ECP_DP_SECP256R1, 1);
    handshake(MBEDTLS_ECP_DP_NONE, 0); /* the preferred x25519: a ladder, no table */
#else
    handshake(MBEDTLS_ECP_DP_NONE, 0);
#endif
}

#if defined(SMTP_TLS_LEND_TABLE)
/* A pseudo-random generator for the keys below (its numbers need not be secret). */
static int counter_rng(void *ctx, unsigned char *out, size_t len)
{
    unsigned *state = ctx;
    for (size_t i = 0; i < len; i++) {
        *state = *state * 1103515245u + 12345u;
        out[i] = (unsigned char)(*state >> 16);
    }
    return 0;
}

static void test_lend(void)
{
    smtp_tls_config *cfg = pair_client_config(pki.ca, SMTP_TLS_VERIFY_REQUIRED, 4096);
    CHECK(cfg->table.T != NULL);
    /* borrowed: a copy, freed with the group */
    mbedtls_ecp_group g;
    mbedtls_ecp_group_init(&g);
    CHECK_INT(tls_table_lend(cfg, &g), 0); /* not loaded yet */
    CHECK_INT(mbedtls_ecp_group_load(&g, MBEDTLS_ECP_DP_SECP256R1), 0);
    CHECK_INT(tls_table_lend(cfg, &g), 1);
    CHECK(g.T != NULL && g.T != cfg->table.T);
    CHECK_INT((long)g.T_size, (long)cfg->table.T_size);
    CHECK_INT(tls_table_lend(cfg, &g), 0); /* it has one now */
    for (size_t i = 0; i < g.T_size; i++)
        CHECK_INT(mbedtls_ecp_point_cmp(&g.T[i], &cfg->table.T[i]), 0);
    /* keys made with it are d times G as a group without it computes them */
    unsigned seed = 7;
    for (int k = 0; k < 4; k++) {
        mbedtls_ecp_keypair made, fresh;
        mbedtls_ecp_keypair_init(&made);
        mbedtls_ecp_keypair_init(&fresh);
        CHECK_INT(mbedtls_ecp_group_load(&made.grp, MBEDTLS_ECP_DP_SECP256R1), 0);
        CHECK_INT(tls_table_lend(cfg, &made.grp), 1);
        CHECK_INT(mbedtls_ecp_gen_keypair(&made.grp, &made.d, &made.Q, counter_rng, &seed), 0);
        CHECK_INT(mbedtls_ecp_group_load(&fresh.grp, MBEDTLS_ECP_DP_SECP256R1), 0);
        CHECK_INT(mbedtls_mpi_copy(&fresh.d, &made.d), 0);
        CHECK_INT(mbedtls_ecp_copy(&fresh.Q, &made.Q), 0);
        CHECK(fresh.grp.T == NULL);
        CHECK_INT(mbedtls_ecp_check_pub_priv(&fresh, &fresh), 0); /* Q == d G, computed anew */
        mbedtls_ecp_keypair_free(&fresh);
        mbedtls_ecp_keypair_free(&made);
    }
    /* another curve: nothing lent */
    mbedtls_ecp_group_free(&g);
    mbedtls_ecp_group_init(&g);
#if defined(MBEDTLS_ECP_DP_SECP384R1_ENABLED)
    CHECK_INT(mbedtls_ecp_group_load(&g, MBEDTLS_ECP_DP_SECP384R1), 0);
    CHECK_INT(tls_table_lend(cfg, &g), 0);
    CHECK(g.T == NULL);
#endif
    mbedtls_ecp_group_free(&g);
    smtp_tls_config_del(cfg);
}
#endif

int main(void)
{
    if (test_pki_make(&pki) != 0) return 1;
    test_handshakes();
#if defined(SMTP_TLS_LEND_TABLE)
    test_lend();
#endif
    return check_finish();
}
