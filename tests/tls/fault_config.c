/* SPDX-License-Identifier: MIT */
/*
 * TLS configurations when the system or mbedTLS fails them (lib/tls/config.c): a copy of
 * config.c is linked with ld's --wrap over the calls it makes to load the system's CA store, to
 * seed the random generator and to fill mbedTLS's configuration (lib/tls/CMakeLists.txt), so
 * that this test passes them through or makes them fail; the library's code is untouched.
 *  - no system store at all, or only its directory: a client that names no CA is refused with
 *    the places looked at, or gets the directory's certificates;
 *  - memory running out while the store loads: SMTP_ERR_NOMEM, never a verification quietly
 *    off;
 *  - a random generator that cannot be seeded, a configuration mbedTLS will not fill, an own
 *    certificate it cannot take: each refused with its reason, nothing made.
 *  - with mbedTLS 2.28, the table of secp256r1's base point a config lends to handshakes
 *    (lib/tls/ecdhe_table.c, whose copy is linked here too): a library of another branch than
 *    the headers lends none, a table that cannot be made refuses the config with its reason,
 *    a copy that runs out of memory lends nothing and leaks nothing, and the random generator
 *    lends only to the handshake of its own config's session.
 * Usage: fault_tls_config (the test makes its certificates at run time, tests/tls/pki.c).
 */
#include <smtp/tls.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509.h>
#include <mbedtls/x509_crt.h>

#include "check.h"
#include "pki.h"
#include "tls_internal.h"

#include <stdio.h>
#include <string.h>

/* ---- the shim: each wrapped call passes through unless the test says otherwise ---- */

static int no_files;      /* fopen of a system CA bundle fails (ENOENT) */
static int path_empty;    /* the system directory holds no certificate */
static int file_nomem;    /* parsing a CA file runs out of memory */
static int path_nomem;    /* parsing the CA directory runs out of memory */
static int seed_fails;    /* the entropy source fails */
static int defaults_fail; /* mbedtls_ssl_config_defaults fails */
static int own_nomem;     /* mbedtls_ssl_conf_own_cert runs out of memory */

static int system_file(const char *path)
{
    return strcmp(path, "/etc/ssl/certs/ca-certificates.crt") == 0 ||
           strcmp(path, "/etc/pki/tls/certs/ca-bundle.crt") == 0 ||
           strcmp(path, "/etc/ssl/cert.pem") == 0;
}

FILE *__real_fopen(const char *path, const char *mode);
FILE *__wrap_fopen(const char *path, const char *mode);
FILE *__wrap_fopen(const char *path, const char *mode)
{
    return no_files && system_file(path) ? NULL : __real_fopen(path, mode);
}

int __real_mbedtls_x509_crt_parse_file(mbedtls_x509_crt *chain, const char *path);
int __wrap_mbedtls_x509_crt_parse_file(mbedtls_x509_crt *chain, const char *path);
int __wrap_mbedtls_x509_crt_parse_file(mbedtls_x509_crt *chain, const char *path)
{
    if (file_nomem) return MBEDTLS_ERR_X509_ALLOC_FAILED;
    return __real_mbedtls_x509_crt_parse_file(chain, path);
}

int __real_mbedtls_x509_crt_parse_path(mbedtls_x509_crt *chain, const char *path);
int __wrap_mbedtls_x509_crt_parse_path(mbedtls_x509_crt *chain, const char *path);
int __wrap_mbedtls_x509_crt_parse_path(mbedtls_x509_crt *chain, const char *path)
{
    if (path_nomem) return MBEDTLS_ERR_X509_ALLOC_FAILED;
    if (path_empty) return 0;
    return __real_mbedtls_x509_crt_parse_path(chain, path);
}

int __real_mbedtls_ctr_drbg_seed(mbedtls_ctr_drbg_context *ctx,
                                 int (*f_entropy)(void *, unsigned char *, size_t), void *p_entropy,
                                 const unsigned char *custom, size_t len);
int __wrap_mbedtls_ctr_drbg_seed(mbedtls_ctr_drbg_context *ctx,
                                 int (*f_entropy)(void *, unsigned char *, size_t), void *p_entropy,
                                 const unsigned char *custom, size_t len);
int __wrap_mbedtls_ctr_drbg_seed(mbedtls_ctr_drbg_context *ctx,
                                 int (*f_entropy)(void *, unsigned char *, size_t), void *p_entropy,
                                 const unsigned char *custom, size_t len)
{
    if (seed_fails) return MBEDTLS_ERR_CTR_DRBG_ENTROPY_SOURCE_FAILED;
    return __real_mbedtls_ctr_drbg_seed(ctx, f_entropy, p_entropy, custom, len);
}

int __real_mbedtls_ssl_config_defaults(mbedtls_ssl_config *conf, int endpoint, int transport,
                                       int preset);
int __wrap_mbedtls_ssl_config_defaults(mbedtls_ssl_config *conf, int endpoint, int transport,
                                       int preset);
int __wrap_mbedtls_ssl_config_defaults(mbedtls_ssl_config *conf, int endpoint, int transport,
                                       int preset)
{
    if (defaults_fail) return MBEDTLS_ERR_SSL_BAD_INPUT_DATA;
    return __real_mbedtls_ssl_config_defaults(conf, endpoint, transport, preset);
}

int __real_mbedtls_ssl_conf_own_cert(mbedtls_ssl_config *conf, mbedtls_x509_crt *own_cert,
                                     mbedtls_pk_context *pk_key);
int __wrap_mbedtls_ssl_conf_own_cert(mbedtls_ssl_config *conf, mbedtls_x509_crt *own_cert,
                                     mbedtls_pk_context *pk_key);
int __wrap_mbedtls_ssl_conf_own_cert(mbedtls_ssl_config *conf, mbedtls_x509_crt *own_cert,
                                     mbedtls_pk_context *pk_key)
{
    if (own_nomem) return MBEDTLS_ERR_SSL_ALLOC_FAILED;
    return __real_mbedtls_ssl_conf_own_cert(conf, own_cert, pk_key);
}

static int other_branch;  /* mbedtls_version_get_number reports 3.0.0 */
static int load_fails;    /* mbedtls_ecp_group_load fails */
static int gen_fails;     /* mbedtls_ecp_gen_keypair: 1 fails, 2 succeeds doing nothing */
static int copy_fails_at; /* mbedtls_ecp_copy fails at this call from now (1: the next) */
static int calloc_fails;  /* the next calloc fails */

unsigned int __real_mbedtls_version_get_number(void);
unsigned int __wrap_mbedtls_version_get_number(void);
unsigned int __wrap_mbedtls_version_get_number(void)
{
    return other_branch ? 0x03000000u : __real_mbedtls_version_get_number();
}

int __real_mbedtls_ecp_group_load(mbedtls_ecp_group *grp, mbedtls_ecp_group_id id);
int __wrap_mbedtls_ecp_group_load(mbedtls_ecp_group *grp, mbedtls_ecp_group_id id);
int __wrap_mbedtls_ecp_group_load(mbedtls_ecp_group *grp, mbedtls_ecp_group_id id)
{
    if (load_fails) return MBEDTLS_ERR_ECP_ALLOC_FAILED;
    return __real_mbedtls_ecp_group_load(grp, id);
}

int __real_mbedtls_ecp_gen_keypair(mbedtls_ecp_group *grp, mbedtls_mpi *d, mbedtls_ecp_point *q,
                                   int (*f_rng)(void *, unsigned char *, size_t), void *p_rng);
int __wrap_mbedtls_ecp_gen_keypair(mbedtls_ecp_group *grp, mbedtls_mpi *d, mbedtls_ecp_point *q,
                                   int (*f_rng)(void *, unsigned char *, size_t), void *p_rng);
int __wrap_mbedtls_ecp_gen_keypair(mbedtls_ecp_group *grp, mbedtls_mpi *d, mbedtls_ecp_point *q,
                                   int (*f_rng)(void *, unsigned char *, size_t), void *p_rng)
{
    if (gen_fails == 1) return MBEDTLS_ERR_ECP_RANDOM_FAILED;
    if (gen_fails == 2) return 0; /* as an mbedTLS built without the comb method's table */
    return __real_mbedtls_ecp_gen_keypair(grp, d, q, f_rng, p_rng);
}

int __real_mbedtls_ecp_copy(mbedtls_ecp_point *p, const mbedtls_ecp_point *q);
int __wrap_mbedtls_ecp_copy(mbedtls_ecp_point *p, const mbedtls_ecp_point *q);
int __wrap_mbedtls_ecp_copy(mbedtls_ecp_point *p, const mbedtls_ecp_point *q)
{
    if (copy_fails_at > 0 && --copy_fails_at == 0) return MBEDTLS_ERR_MPI_ALLOC_FAILED;
    return __real_mbedtls_ecp_copy(p, q);
}

void *__real_calloc(size_t n, size_t size);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_calloc(size_t n, size_t size)
{
    if (calloc_fails) {
        calloc_fails = 0;
        return NULL;
    }
    return __real_calloc(n, size);
}

/* ---- the tests ---- */

static test_pki pki;

/* Makes a config of `s`: its result, *cfg NULL on failure, and the reason holds `want`. */
static int config(const smtp_tls_settings *s, const char *want)
{
    smtp_tls_config *cfg = NULL;
    char why[512] = "";
    int rc = smtp_tls_config_new(&cfg, s, NULL, why, sizeof why);
    CHECK(rc == 0 ? cfg != NULL : cfg == NULL);
    CHECK(strstr(why, want) != NULL);
    if (!strstr(why, want)) fprintf(stderr, "config: \"%s\", wanted \"%s\"\n", why, want);
    smtp_tls_config_del(cfg);
    return rc;
}

/* A client that names no CA gets the system's store: the first bundle file, else the
 * directory, else a refusal that says where it looked. */
static void test_system_store(void)
{
    smtp_tls_settings s;
    smtp_tls_settings_init(&s, SMTP_TLS_CLIENT);
    no_files = 1; /* no bundle: the directory's certificates */
    CHECK_INT(config(&s, ""), 0);
    path_empty = 1; /* and none there */
    CHECK_INT(config(&s, "no system store found (/etc/ssl/certs/ca-certificates.crt"),
              SMTP_ERR_INVALID_ARGUMENT);
    path_empty = 0;
    path_nomem = 1;
    CHECK_INT(config(&s, "/etc/ssl/certs: "), SMTP_ERR_NOMEM);
    path_nomem = 0;
    no_files = 0;
    /* A bundle that the machine has (the test's CMake rule runs this only then) whose parse
     * runs out of memory: NOMEM, with the file named. */
    file_nomem = 1;
    CHECK_INT(config(&s, "/etc/"), SMTP_ERR_NOMEM);
    /* A CA file named in the settings: the same. */
    s.ca_file = "/nonexistent/ca.pem";
    CHECK_INT(config(&s, "ca_file /nonexistent/ca.pem: "), SMTP_ERR_NOMEM);
    file_nomem = 0;
}

static void test_mbedtls_refuses(void)
{
    smtp_tls_settings s;
    smtp_tls_settings_init(&s, SMTP_TLS_SERVER);
    s.cert_pem = pki.server_chain;
    s.key_pem = pki.server_key;
    CHECK_INT(config(&s, ""), 0);
    seed_fails = 1;
    CHECK_INT(config(&s, "random generator seed: "), SMTP_ERR_INVALID_STATE);
    seed_fails = 0;
    defaults_fail = 1;
    CHECK_INT(config(&s, "ssl config: "), SMTP_ERR_INVALID_ARGUMENT);
    defaults_fail = 0;
    own_nomem = 1;
    CHECK_INT(config(&s, "own certificate: "), SMTP_ERR_NOMEM);
    own_nomem = 0;
    /* A key password given for a key that is not encrypted is not needed: it loads. */
    s.key_password = "unused";
    CHECK_INT(config(&s, ""), 0);
}

#if defined(SMTP_TLS_LEND_TABLE)
static smtp_tls_config *server_config(void)
{
    smtp_tls_settings s;
    smtp_tls_settings_init(&s, SMTP_TLS_SERVER);
    s.cert_pem = pki.server_chain;
    s.key_pem = pki.server_key;
    smtp_tls_config *cfg = NULL;
    CHECK_INT(smtp_tls_config_new(&cfg, &s, NULL, NULL, 0), 0);
    return cfg;
}

static void test_table(void)
{
    smtp_tls_settings s;
    smtp_tls_settings_init(&s, SMTP_TLS_SERVER);
    s.cert_pem = pki.server_chain;
    s.key_pem = pki.server_key;
    /* the table cannot be made: the config is refused, and says why */
    load_fails = 1;
    CHECK_INT(config(&s, "secp256r1 table: "), SMTP_ERR_NOMEM);
    load_fails = 0;
    gen_fails = 1;
    CHECK_INT(config(&s, "secp256r1 table: "), SMTP_ERR_INVALID_STATE);
    gen_fails = 2; /* a key made without leaving a table behind */
    CHECK_INT(config(&s, "secp256r1 table: "), SMTP_ERR_INVALID_STATE);
    gen_fails = 0;
    /* a library of another branch than the headers: no table, nothing lent, the config works */
    other_branch = 1;
    smtp_tls_config *none = server_config();
    other_branch = 0;
    smtp_tls_config *cfg = server_config();
    if (!none || !cfg) return;
    CHECK(none->table.T == NULL && cfg->table.T != NULL);
    mbedtls_ecp_group g;
    mbedtls_ecp_group_init(&g);
    CHECK_INT(mbedtls_ecp_group_load(&g, MBEDTLS_ECP_DP_SECP256R1), 0);
    CHECK_INT(tls_table_lend(none, &g), 0);
    /* a copy that runs out of memory: nothing lent, nothing left (ASan and valgrind watch) */
    calloc_fails = 1;
    CHECK_INT(tls_table_lend(cfg, &g), 0);
    for (int at = 1; at <= 3; at++) {
        copy_fails_at = at;
        CHECK_INT(tls_table_lend(cfg, &g), 0);
        CHECK(g.T == NULL);
    }
    copy_fails_at = 0;
    CHECK_INT(tls_table_lend(cfg, &g), 1);
    mbedtls_ecp_group_free(&g);
    /* the random generator lends only within a handshake step of its own config's session */
    unsigned char out[16];
    mbedtls_ssl_context ssl;
    mbedtls_ssl_init(&ssl); /* no handshake under way */
    tls_lender l = {cfg, &ssl, 0};
    CHECK_INT(tls_rng(cfg, out, sizeof out), 0); /* outside any step */
    tls_lender_enter(&l);
    CHECK_INT(tls_rng(none, out, sizeof out), 0); /* another config's generator */
    CHECK_INT(tls_rng(cfg, out, sizeof out), 0);  /* a session without a handshake */
    tls_lender_leave();
    CHECK_INT((long)l.lent, 0);
    mbedtls_ssl_free(&ssl);
    smtp_tls_config_del(cfg);
    smtp_tls_config_del(none);
}
#endif

int main(void)
{
    if (test_pki_make(&pki) < 0) return 1;
    FILE *bundle = fopen("/etc/ssl/certs/ca-certificates.crt", "rb");
    if (bundle) {
        fclose(bundle);
        test_system_store();
    } else {
        fprintf(stderr, "note: no /etc/ssl/certs/ca-certificates.crt, system store not tested\n");
    }
    test_mbedtls_refuses();
#if defined(SMTP_TLS_LEND_TABLE)
    test_table();
#endif
    return check_finish();
}
