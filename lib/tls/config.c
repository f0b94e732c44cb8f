/* SPDX-License-Identifier: MIT */
/*
 * The shared TLS configuration (smtp_tls_config): it seeds one random generator (mbedTLS
 * entropy + CTR-DRBG) for all its sessions, loads the own certificate chain and key and the
 * trusted CAs from files or PEM text, checks that the key matches the certificate, and fills
 * the mbedtls_ssl_config that every session of the config reads (mbedtls_ssl_setup), and for a
 * client a second one for its sessions with DANE (setup_ssl_configs).
 *
 * Defaults follow RFC 8314 4.1 (TLS 1.2 or later) and RFC 7817 / RFC 6125 for a client
 * (certificate and host name verified); the caller may only weaken verification explicitly.
 * Also holds the error helpers that config.c and session.c share (tls_internal.h).
 */
#include "tls_internal.h"

#include <mbedtls/error.h>

#if MBEDTLS_VERSION_NUMBER >= 0x03000000 && defined(MBEDTLS_PSA_CRYPTO_C)
/* 3.x: TLS 1.3 and MBEDTLS_USE_PSA_CRYPTO run their crypto through PSA, which must be
 * initialized before any handshake (2.28 never needs it). */
#include <psa/crypto.h>
#define SMTP_TLS_NEED_PSA_INIT 1
#endif

#if MBEDTLS_VERSION_NUMBER < 0x03000000 && defined(MBEDTLS_ECDSA_C)
#include <mbedtls/ecdsa.h>
#define SMTP_TLS_SIGN_IN_PLACE 1
#endif

#include <stddef.h>
#include <stdio.h>
#include <string.h>

/* A personalization string for the DRBG (NIST SP 800-90A): tells this generator apart. */
static const unsigned char drbg_personalization[] = "libsmtp tls config";

/* The size of each version of smtp_tls_settings (common.h: versioned structs); 0: unknown. */
static size_t settings_size(int version)
{
    switch (version) {
    case 1: return offsetof(smtp_tls_settings, ticket_lifetime);
    case 2: return sizeof(smtp_tls_settings);
    default: return 0;
    }
}

void smtp_tls_settings_init_versioned(int version, smtp_tls_settings *s, smtp_tls_role role)
{
    if (!s || version < 1 || version > SMTP_TLS_SETTINGS_VERSION) return;
    memset(s, 0, settings_size(version)); /* a version 1 caller's struct is shorter */
    s->role = role;
    s->verify = role == SMTP_TLS_SERVER ? SMTP_TLS_VERIFY_NONE : SMTP_TLS_VERIFY_REQUIRED;
    s->min_version = SMTP_TLS_MIN_1_2;
    s->in_buffer = SMTP_TLS_DEFAULT_BUFFER;
    s->out_buffer = SMTP_TLS_DEFAULT_BUFFER;
}

/* The ECP module's allocation failure (its header comes with MBEDTLS_ECP_C). */
#if defined(MBEDTLS_ERR_ECP_ALLOC_FAILED)
#define ECP_ALLOC_FAILED (-MBEDTLS_ERR_ECP_ALLOC_FAILED)
#else
#define ECP_ALLOC_FAILED (-MBEDTLS_ERR_SSL_ALLOC_FAILED)
#endif

int smtp_tls_map_error(int mbedtls_err)
{
    /* An mbedTLS code is a high-level part (multiples of 0x80) plus a low-level part. */
    int high = (-mbedtls_err) & ~0x7f, low = (-mbedtls_err) & 0x7f;
    if (high == -MBEDTLS_ERR_SSL_ALLOC_FAILED || high == -MBEDTLS_ERR_X509_ALLOC_FAILED ||
        high == -MBEDTLS_ERR_PK_ALLOC_FAILED || high == ECP_ALLOC_FAILED ||
        low == -MBEDTLS_ERR_MPI_ALLOC_FAILED)
        return SMTP_ERR_NOMEM;
    return SMTP_ERR_PROTO;
}

void smtp_tls_describe(char *buf, size_t cap, const char *what, int mbedtls_err)
{
    char text[200];
#if defined(MBEDTLS_ERROR_C)
    mbedtls_strerror(mbedtls_err, text, sizeof text);
#else
    snprintf(text, sizeof text, "mbedTLS error -0x%04X", (unsigned)-mbedtls_err);
#endif
    snprintf(buf, cap, "%s: %s", what, text);
}

size_t smtp_tls_flags_text(char *buf, size_t cap, uint32_t flags)
{
    char lines[512];
    /* mbedTLS writes one problem per line, each ending with "\n". */
    int n = mbedtls_x509_crt_verify_info(lines, sizeof lines, "", flags);
    size_t out = 0;
    if (cap == 0) return 0;
    for (const char *p = lines; n > 0 && *p != '\0'; p++) {
        if (*p == '\n') {
            if (p[1] == '\0' || out + 2 >= cap) break;
            buf[out++] = ';';
            buf[out++] = ' ';
        } else {
            if (out + 1 >= cap) break;
            buf[out++] = *p;
        }
    }
    buf[out] = '\0';
    return out;
}

/* A setting that does not load is the caller's to fix, unless memory ran out. */
static int load_code(int mbedtls_err)
{
    return smtp_tls_map_error(mbedtls_err) == SMTP_ERR_NOMEM ? SMTP_ERR_NOMEM
                                                             : SMTP_ERR_INVALID_ARGUMENT;
}

/* Formats a config error for the caller, when it gave a buffer. */
static int config_error(char *err, size_t errlen, int code, const char *what, int mbedtls_err)
{
    if (err && errlen > 0) {
        if (mbedtls_err != 0)
            smtp_tls_describe(err, errlen, what, mbedtls_err);
        else
            snprintf(err, errlen, "%s", what);
    }
    return code;
}

static int check_settings(const smtp_tls_settings *s, char *err, size_t errlen)
{
    const int bad = SMTP_ERR_INVALID_ARGUMENT;
    if (s->role != SMTP_TLS_CLIENT && s->role != SMTP_TLS_SERVER)
        return config_error(err, errlen, bad, "role: neither client nor server", 0);
    if (s->verify != SMTP_TLS_VERIFY_REQUIRED && s->verify != SMTP_TLS_VERIFY_OPTIONAL &&
        s->verify != SMTP_TLS_VERIFY_NONE)
        return config_error(err, errlen, bad, "verify: unknown mode", 0);
    if (s->min_version != SMTP_TLS_MIN_1_2 && s->min_version != SMTP_TLS_MIN_1_3)
        return config_error(err, errlen, bad, "min_version: unknown version", 0);
    if (s->in_buffer < SMTP_TLS_MIN_BUFFER || s->out_buffer < SMTP_TLS_MIN_BUFFER)
        return config_error(err, errlen, bad, "in_buffer/out_buffer: below SMTP_TLS_MIN_BUFFER", 0);
    /* bounded, so that smtp_tls_new's one block (session and both buffers) cannot overflow */
    if (s->in_buffer > SMTP_TLS_MAX_BUFFER || s->out_buffer > SMTP_TLS_MAX_BUFFER)
        return config_error(err, errlen, bad, "in_buffer/out_buffer: above SMTP_TLS_MAX_BUFFER", 0);
    int has_cert = s->cert_file || s->cert_pem, has_key = s->key_file || s->key_pem;
    if (has_cert != has_key)
        return config_error(err, errlen, bad, "cert and key: one given without the other", 0);
    if ((s->cert_file && s->cert_pem) || (s->key_file && s->key_pem))
        return config_error(err, errlen, bad, "cert and key: both a file and PEM text given", 0);
    if (s->ticket_lifetime > 0 && s->role != SMTP_TLS_SERVER)
        return config_error(err, errlen, bad, "ticket_lifetime: only a server issues tickets", 0);
    if (s->ticket_lifetime > SMTP_TLS_MAX_TICKET_LIFETIME)
        return config_error(err, errlen, bad, "ticket_lifetime: above SMTP_TLS_MAX_TICKET_LIFETIME",
                            0);
#if !defined(SMTP_TLS_TICKETS)
    if (s->ticket_lifetime > 0)
        return config_error(err, errlen, bad, "ticket_lifetime: no session tickets in this mbedTLS",
                            0);
#endif
    if (s->role == SMTP_TLS_SERVER && !has_cert)
        return config_error(err, errlen, bad, "server: no certificate and key", 0);
    if (s->role == SMTP_TLS_SERVER && s->verify != SMTP_TLS_VERIFY_NONE && !s->ca_file &&
        !s->ca_path && !s->ca_pem)
        return config_error(err, errlen, bad, "server: client certificates asked for but no CA", 0);
    return 0;
}

/* The system's trusted CAs, in the order of smtp_tls_settings (tls.h): the first bundle file
 * that can be read, else the directory. */
static const char *const system_ca_files[] = {
    "/etc/ssl/certs/ca-certificates.crt", /* Debian, Ubuntu, Alpine, Arch, Gentoo */
    "/etc/pki/tls/certs/ca-bundle.crt",   /* Fedora, RHEL and CentOS */
    "/etc/ssl/cert.pem",                  /* the BSDs, macOS, Alpine */
};
static const char system_ca_path[] = "/etc/ssl/certs";

/* Loads the system's store for a client that named no CA. */
static int load_system_cas(smtp_tls_config *cfg, char *err, size_t errlen)
{
    for (size_t i = 0; i < sizeof system_ca_files / sizeof system_ca_files[0]; i++) {
        FILE *f = fopen(system_ca_files[i], "rb");
        if (!f) continue;
        fclose(f);
        int ret = mbedtls_x509_crt_parse_file(&cfg->ca, system_ca_files[i]);
        if (ret >= 0 && cfg->ca.raw.len > 0) return 0;
        if (ret < 0 && smtp_tls_map_error(ret) == SMTP_ERR_NOMEM)
            return config_error(err, errlen, SMTP_ERR_NOMEM, system_ca_files[i], ret);
        /* unreadable as certificates: try the next place */
    }
    int ret = mbedtls_x509_crt_parse_path(&cfg->ca, system_ca_path);
    if (ret >= 0 && cfg->ca.raw.len > 0) return 0;
    if (ret < 0 && smtp_tls_map_error(ret) == SMTP_ERR_NOMEM)
        return config_error(err, errlen, SMTP_ERR_NOMEM, system_ca_path, ret);
    return config_error(err, errlen, SMTP_ERR_INVALID_ARGUMENT,
                        "verification on but no CA given (ca_file, ca_path, ca_pem) and no system "
                        "store found (/etc/ssl/certs/ca-certificates.crt, "
                        "/etc/pki/tls/certs/ca-bundle.crt, /etc/ssl/cert.pem, /etc/ssl/certs)",
                        0);
}

/* Parsing functions return 0, a positive count of certificates they skipped, or an error. A
 * CA bundle may hold certificates mbedTLS cannot read: skipping some is fine there. */
static int load_cas(smtp_tls_config *cfg, const smtp_tls_settings *s, char *err, size_t errlen)
{
    char what[300];
    int ret;
    if (s->role == SMTP_TLS_CLIENT && s->verify != SMTP_TLS_VERIFY_NONE && !s->ca_file &&
        !s->ca_path && !s->ca_pem) {
        if ((ret = load_system_cas(cfg, err, errlen)) != 0) return ret;
        cfg->has_ca = 1;
        return 0;
    }
    if (s->ca_file && (ret = mbedtls_x509_crt_parse_file(&cfg->ca, s->ca_file)) < 0) {
        snprintf(what, sizeof what, "ca_file %s", s->ca_file);
        return config_error(err, errlen, load_code(ret), what, ret);
    }
    if (s->ca_path && (ret = mbedtls_x509_crt_parse_path(&cfg->ca, s->ca_path)) < 0) {
        snprintf(what, sizeof what, "ca_path %s", s->ca_path);
        return config_error(err, errlen, load_code(ret), what, ret);
    }
    if (s->ca_pem && (ret = mbedtls_x509_crt_parse(&cfg->ca, (const unsigned char *)s->ca_pem,
                                                   strlen(s->ca_pem) + 1)) < 0)
        return config_error(err, errlen, load_code(ret), "ca_pem", ret);
    cfg->has_ca = cfg->ca.raw.len > 0;
    if ((s->ca_file || s->ca_path || s->ca_pem) && !cfg->has_ca)
        return config_error(err, errlen, SMTP_ERR_INVALID_ARGUMENT, "CA: no certificate found", 0);
    return 0;
}

/* 3.x: the key parsing and pair-check functions take the RNG (RSA blinding); 2.28's do not. */
static int parse_key(smtp_tls_config *cfg, const smtp_tls_settings *s)
{
    const char *pw = s->key_password;
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
    if (s->key_file)
        return mbedtls_pk_parse_keyfile(&cfg->own_key, s->key_file, pw, mbedtls_ctr_drbg_random,
                                        &cfg->drbg);
    return mbedtls_pk_parse_key(&cfg->own_key, (const unsigned char *)s->key_pem,
                                strlen(s->key_pem) + 1, (const unsigned char *)pw,
                                pw ? strlen(pw) : 0, mbedtls_ctr_drbg_random, &cfg->drbg);
#else
    if (s->key_file) return mbedtls_pk_parse_keyfile(&cfg->own_key, s->key_file, pw);
    return mbedtls_pk_parse_key(&cfg->own_key, (const unsigned char *)s->key_pem,
                                strlen(s->key_pem) + 1, (const unsigned char *)pw,
                                pw ? strlen(pw) : 0);
#endif
}

static int check_pair(smtp_tls_config *cfg)
{
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
    return mbedtls_pk_check_pair(&cfg->own_cert.pk, &cfg->own_key, mbedtls_ctr_drbg_random,
                                 &cfg->drbg);
#else
    return mbedtls_pk_check_pair(&cfg->own_cert.pk, &cfg->own_key);
#endif
}

static int load_own(smtp_tls_config *cfg, const smtp_tls_settings *s, char *err, size_t errlen)
{
    int ret;
    if (!s->cert_file && !s->cert_pem) return 0;
    /* The own chain must load whole: a skipped intermediate would break the peer's check. */
    if (s->cert_file)
        ret = mbedtls_x509_crt_parse_file(&cfg->own_cert, s->cert_file);
    else
        ret = mbedtls_x509_crt_parse(&cfg->own_cert, (const unsigned char *)s->cert_pem,
                                     strlen(s->cert_pem) + 1);
    if (ret != 0) {
        if (ret > 0) ret = MBEDTLS_ERR_X509_CERT_UNKNOWN_FORMAT;
        return config_error(err, errlen, load_code(ret),
                            s->cert_file ? s->cert_file : "certificate (cert_pem)", ret);
    }
    if ((ret = parse_key(cfg, s)) != 0)
        return config_error(err, errlen, load_code(ret),
                            s->key_file ? s->key_file : "key (key_pem)", ret);
    if ((ret = check_pair(cfg)) != 0)
        return config_error(err, errlen, load_code(ret), "key: does not match the certificate",
                            ret);
    cfg->has_own = 1;
    return 0;
}

/*
 * 2.28 signs with an EC key of type ECKEY (what parsing gives) through a copy made for each
 * signature (its pk_wrap.c), so the comb table of the curve's base point, which
 * mbedtls_ecp_mul keeps in the key's group, is computed again for every handshake. The same
 * key as type ECDSA is signed with in place: one signature here makes the table, and the
 * sessions only read it (so sessions in several threads stay safe). 3.x signs in place.
 */
static int sign_in_place(smtp_tls_config *cfg, char *err, size_t errlen)
{
#if defined(SMTP_TLS_SIGN_IN_PLACE)
    if (!cfg->has_own || mbedtls_pk_get_type(&cfg->own_key) != MBEDTLS_PK_ECKEY) return 0;
    mbedtls_pk_context key;
    mbedtls_pk_init(&key);
    unsigned char hash[32] = {0}, sig[MBEDTLS_ECDSA_MAX_LEN];
    size_t len;
    int ret = mbedtls_pk_setup(&key, mbedtls_pk_info_from_type(MBEDTLS_PK_ECDSA));
    if (ret == 0) ret = mbedtls_ecdsa_from_keypair(mbedtls_pk_ec(key), mbedtls_pk_ec(cfg->own_key));
    if (ret == 0)
        ret = mbedtls_pk_sign(&key, MBEDTLS_MD_SHA256, hash, sizeof hash, sig, &len,
                              mbedtls_ctr_drbg_random, &cfg->drbg);
    if (ret != 0) {
        mbedtls_pk_free(&key);
        return config_error(err, errlen, load_code(ret), "key: ECDSA setup", ret);
    }
    mbedtls_pk_free(&cfg->own_key);
    cfg->own_key = key;
#else
    (void)cfg;
    (void)err;
    (void)errlen;
#endif
    return 0;
}

/* 3.2 replaced mbedtls_ssl_conf_min_version(major, minor) by mbedtls_ssl_conf_min_tls_version;
 * TLS 1.3 is usable from 3.2 on (3.0 and 3.1 had it only as an experiment). */
static int set_min_version(mbedtls_ssl_config *conf, smtp_tls_version_min v)
{
#if MBEDTLS_VERSION_NUMBER >= 0x03020000
#if defined(MBEDTLS_SSL_PROTO_TLS1_3)
    if (v == SMTP_TLS_MIN_1_3) {
        mbedtls_ssl_conf_min_tls_version(conf, MBEDTLS_SSL_VERSION_TLS1_3);
        return 0;
    }
#endif
    if (v != SMTP_TLS_MIN_1_2) return SMTP_ERR_INVALID_ARGUMENT;
    mbedtls_ssl_conf_min_tls_version(conf, MBEDTLS_SSL_VERSION_TLS1_2);
    return 0;
#else
    if (v != SMTP_TLS_MIN_1_2) return SMTP_ERR_INVALID_ARGUMENT;
    mbedtls_ssl_conf_min_version(conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
    return 0;
#endif
}

static int authmode(smtp_tls_verify v)
{
    switch (v) {
    case SMTP_TLS_VERIFY_REQUIRED: return MBEDTLS_SSL_VERIFY_REQUIRED;
    case SMTP_TLS_VERIFY_OPTIONAL: return MBEDTLS_SSL_VERIFY_OPTIONAL;
    default: return MBEDTLS_SSL_VERIFY_NONE;
    }
}

#if MBEDTLS_VERSION_NUMBER < 0x03000000 && defined(MBEDTLS_ECP_C)
/*
 * 2.28 prefers the largest curve both sides know (its list, mbedtls_ecp_grp_id_list, puts
 * secp521r1 first, x25519 near the end), and a server chooses by its own order: an OpenSSL
 * client's default offer (X25519 first, secp521r1 among the rest) cost our server a secp521r1
 * ECDHE, 2.2 times secp256r1's instructions per handshake (BENCHMARKS.md, part tls). 3.x and
 * OpenSSL prefer x25519, then secp256r1, secp384r1, secp521r1: this is that order, the other
 * curves 2.28 knows after them in its own order, so that none a peer needs is lost (a TLS 1.2
 * peer's ECDSA certificate must use a curve of the list too).
 */
static const mbedtls_ecp_group_id preferred_curves[] = {
    MBEDTLS_ECP_DP_CURVE25519, MBEDTLS_ECP_DP_SECP256R1, MBEDTLS_ECP_DP_SECP384R1,
    MBEDTLS_ECP_DP_SECP521R1};
#define N_PREFERRED (sizeof preferred_curves / sizeof preferred_curves[0])

/* A curve's place in preferred_curves; N_PREFERRED for the others. */
static size_t curve_rank(mbedtls_ecp_group_id g)
{
    size_t r = 0;
    while (r < N_PREFERRED && preferred_curves[r] != g)
        r++;
    return r;
}

/* Writes the curves this mbedTLS has, by rank, to out[0..cap), ended by MBEDTLS_ECP_DP_NONE. */
static void prefer_curves(mbedtls_ecp_group_id *out, size_t cap)
{
    size_t n = 0;
    for (size_t rank = 0; rank <= N_PREFERRED; rank++)
        for (const mbedtls_ecp_group_id *g = mbedtls_ecp_grp_id_list();
             *g != MBEDTLS_ECP_DP_NONE && n + 1 < cap; g++)
            if (curve_rank(*g) == rank) out[n++] = *g;
    out[n] = MBEDTLS_ECP_DP_NONE;
}
#endif

/* Fills one mbedTLS configuration: the role, the versions, the random generator, `mode` (an
 * MBEDTLS_SSL_VERIFY_*), the CAs when `with_ca`, the own certificate. */
static int setup_ssl_config(smtp_tls_config *cfg, mbedtls_ssl_config *conf,
                            const smtp_tls_settings *s, int mode, int with_ca, char *err,
                            size_t errlen)
{
    int endpoint = s->role == SMTP_TLS_SERVER ? MBEDTLS_SSL_IS_SERVER : MBEDTLS_SSL_IS_CLIENT;
    int ret = mbedtls_ssl_config_defaults(conf, endpoint, MBEDTLS_SSL_TRANSPORT_STREAM,
                                          MBEDTLS_SSL_PRESET_DEFAULT);
    if (ret != 0) return config_error(err, errlen, load_code(ret), "ssl config", ret);
    if (set_min_version(conf, s->min_version) != 0)
        return config_error(err, errlen, SMTP_ERR_INVALID_ARGUMENT,
                            "min_version: TLS 1.3 is not available in this mbedTLS", 0);
    mbedtls_ssl_conf_rng(conf, tls_rng, cfg);
    mbedtls_ssl_conf_authmode(conf, mode);
#if MBEDTLS_VERSION_NUMBER < 0x03000000 && defined(MBEDTLS_ECP_C)
    mbedtls_ssl_conf_curves(conf, cfg->curves); /* filled by smtp_tls_config_new */
#endif
    /* Renegotiation stays off (mbedTLS's default): SMTP never needs it. */
    if (with_ca && cfg->has_ca) mbedtls_ssl_conf_ca_chain(conf, &cfg->ca, NULL);
    if (cfg->has_own && (ret = mbedtls_ssl_conf_own_cert(conf, &cfg->own_cert, &cfg->own_key)) != 0)
        return config_error(err, errlen, load_code(ret), "own certificate", ret);
    return 0;
}

/* A server's session tickets (RFC 5077), when ticket_lifetime asks for them: AES-256-GCM keys
 * from the config's DRBG, each used for ticket_lifetime seconds. */
static int setup_tickets(smtp_tls_config *cfg, const smtp_tls_settings *s, char *err, size_t errlen)
{
#if defined(SMTP_TLS_TICKETS)
    if (s->ticket_lifetime == 0) return 0;
    int ret = mbedtls_ssl_ticket_setup(&cfg->tickets, mbedtls_ctr_drbg_random, &cfg->drbg,
                                       MBEDTLS_CIPHER_AES_256_GCM, s->ticket_lifetime);
    if (ret != 0) return config_error(err, errlen, load_code(ret), "ticket keys", ret);
    mbedtls_ssl_conf_session_tickets_cb(&cfg->conf, mbedtls_ssl_ticket_write,
                                        mbedtls_ssl_ticket_parse, &cfg->tickets);
#else
    (void)cfg;
    (void)s;
    (void)err;
    (void)errlen;
#endif
    return 0;
}

/*
 * The session configurations: `conf` as the settings say and, for a client, `dane_conf` for
 * its sessions with DANE (smtp_tls_set_dane). There verification is OPTIONAL, so that mbedTLS
 * calls the verify callback and goes on whatever it thinks of the chain, and the callback's
 * DANE check ends the handshake when it fails (a callback's error is fatal in every mode); no
 * CA is given, since none counts (RFC 7672 3).
 */
static int setup_ssl_configs(smtp_tls_config *cfg, const smtp_tls_settings *s, char *err,
                             size_t errlen)
{
    int ret = setup_ssl_config(cfg, &cfg->conf, s, authmode(s->verify), 1, err, errlen);
    if (ret == 0 && s->role == SMTP_TLS_CLIENT)
        ret =
            setup_ssl_config(cfg, &cfg->dane_conf, s, MBEDTLS_SSL_VERIFY_OPTIONAL, 0, err, errlen);
    return ret;
}

/* Seeds the DRBG and, with 2.28, makes from it the table of secp256r1's base point that the
 * handshakes borrow (ecdhe_table.c). */
static int seed_rng(smtp_tls_config *cfg, char *err, size_t errlen)
{
#if defined(SMTP_TLS_NEED_PSA_INIT)
    if (psa_crypto_init() != PSA_SUCCESS)
        return config_error(err, errlen, SMTP_ERR_INVALID_STATE, "psa_crypto_init failed", 0);
#endif
    const char *what = "random generator seed";
    int ret = mbedtls_ctr_drbg_seed(&cfg->drbg, mbedtls_entropy_func, &cfg->entropy,
                                    drbg_personalization, sizeof drbg_personalization - 1);
#if defined(SMTP_TLS_LEND_TABLE)
    if (ret == 0) {
        what = "secp256r1 table";
        ret = tls_table_init(cfg);
    }
#endif
    if (ret != 0) {
        int code =
            smtp_tls_map_error(ret) == SMTP_ERR_NOMEM ? SMTP_ERR_NOMEM : SMTP_ERR_INVALID_STATE;
        return config_error(err, errlen, code, what, ret);
    }
    return 0;
}

int smtp_tls_config_new_versioned(smtp_tls_config **pcfg, int settings_version,
                                  const smtp_tls_settings *settings_in, const smtp_mem *mem,
                                  char *err, size_t errlen)
{
    if (pcfg) *pcfg = NULL;
    if (err && errlen > 0) err[0] = '\0';
    if (!pcfg || !settings_in)
        return config_error(err, errlen, SMTP_ERR_INVALID_ARGUMENT, "pcfg or settings NULL", 0);
    if (!settings_size(settings_version))
        return config_error(err, errlen, SMTP_ERR_INVALID_ARGUMENT,
                            "settings version: unknown to this library", 0);
    /* What a caller's version lacks keeps its default (for the role every version has). */
    smtp_tls_settings set;
    smtp_tls_settings_init(&set, settings_in->role);
    memcpy(&set, settings_in, settings_size(settings_version));
    const smtp_tls_settings *settings = &set;
    int ret = check_settings(settings, err, errlen);
    if (ret != 0) return ret;
    mem = mem ? mem : smtp_mem_default();
    smtp_tls_config *cfg = mem->calloc(1, sizeof *cfg, mem->user_data);
    if (!cfg) return config_error(err, errlen, SMTP_ERR_NOMEM, "out of memory", 0);
    cfg->mem = *mem;
    cfg->role = settings->role;
    cfg->verify = settings->verify;
    cfg->in_buffer = settings->in_buffer;
    cfg->out_buffer = settings->out_buffer;
    mbedtls_entropy_init(&cfg->entropy);
    mbedtls_ctr_drbg_init(&cfg->drbg);
    mbedtls_x509_crt_init(&cfg->ca);
    mbedtls_x509_crt_init(&cfg->own_cert);
    mbedtls_pk_init(&cfg->own_key);
    mbedtls_ssl_config_init(&cfg->conf);
    mbedtls_ssl_config_init(&cfg->dane_conf);
#if defined(SMTP_TLS_TICKETS)
    mbedtls_ssl_ticket_init(&cfg->tickets);
#endif
#if defined(SMTP_TLS_LEND_TABLE)
    mbedtls_ecp_group_init(&cfg->table);
#endif
#if MBEDTLS_VERSION_NUMBER < 0x03000000 && defined(MBEDTLS_ECP_C)
    prefer_curves(cfg->curves, sizeof cfg->curves / sizeof cfg->curves[0]);
#endif
    /* The RNG first: 3.x needs it to parse keys. */
    if ((ret = seed_rng(cfg, err, errlen)) != 0 || (ret = load_cas(cfg, settings, err, errlen)) ||
        (ret = load_own(cfg, settings, err, errlen)) || (ret = sign_in_place(cfg, err, errlen)) ||
        (ret = setup_ssl_configs(cfg, settings, err, errlen)) ||
        (ret = setup_tickets(cfg, settings, err, errlen))) {
        smtp_tls_config_del(cfg);
        return ret;
    }
    *pcfg = cfg;
    return 0;
}

void smtp_tls_config_del(smtp_tls_config *cfg)
{
    if (!cfg) return;
    mbedtls_ssl_config_free(&cfg->dane_conf);
    mbedtls_ssl_config_free(&cfg->conf);
#if defined(SMTP_TLS_TICKETS)
    mbedtls_ssl_ticket_free(&cfg->tickets);
#endif
#if defined(SMTP_TLS_LEND_TABLE)
    tls_table_free(cfg);
#endif
    mbedtls_pk_free(&cfg->own_key);
    mbedtls_x509_crt_free(&cfg->own_cert);
    mbedtls_x509_crt_free(&cfg->ca);
    mbedtls_ctr_drbg_free(&cfg->drbg);
    mbedtls_entropy_free(&cfg->entropy);
    smtp_mem mem = cfg->mem;
    mem.free(cfg, mem.user_data);
}
