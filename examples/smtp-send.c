/* SPDX-License-Identifier: MIT */
/*
 * smtp-send: send one message (or many, in load mode) to an SMTP or LMTP server, like
 * sendmail -bm or swaks. Built on libsmtp's client engine and its socket adapter.
 *
 * How it works: the options are checked first (any mistake exits 64, EX_USAGE); the message
 * is read whole (from --data FILE or standard input) because it may be sent many times and
 * its size is declared with SIZE=. Each connection runs one client engine: its envelope is
 * submitted before the greeting, its body written as the engine makes room, and on_message
 * submits the next copy until --count messages went through, then QUIT. The adapter moves
 * the bytes (and records them for -v). Every recipient's reply is kept and printed; the exit
 * status is the worst outcome seen, in sysexits.h terms.
 */
#include "args.h"
#include "send.h"

#include <arpa/inet.h>
#ifdef SMTP_EXAMPLES_HAVE_IDN
#include <smtp/idn.h>
#endif

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <termios.h>
#include <unistd.h>

#define PROG "smtp-send"

#define usage_error(...) ex_usage_error(PROG, __VA_ARGS__)

static void help(void)
{
    fputs("Usage: " PROG " [OPTION]... --from ADDR --to ADDR [--to ADDR]...\n"
          "  or:  " PROG " --probe [OPTION]...\n"
          "Send a message (from --data FILE or standard input) to an SMTP or LMTP server.\n"
          "Empty standard input is refused (exit 64): --data /dev/null sends an empty message.\n"
          "\n"
          "Envelope and message:\n"
          "  -s, --server HOST[:PORT]  server to connect to; IPv6 as [ADDR]:PORT\n"
          "                            (default localhost:25, with --tls localhost:465)\n"
          "  -f, --from ADDR           envelope sender; --from '' sends the null path <>\n"
          "  -t, --to ADDR[,ADDR]...   recipients (repeat, or a comma-separated list)\n"
          "  -d, --data FILE           the message, headers and body ('-': standard input)\n"
          "      --helo NAME           name sent with EHLO/LHLO (default: this host's name;\n"
          "                            U-labels need IDNA support, see --version)\n"
          "      --lmtp                speak LMTP (RFC 2033): LHLO, one reply per recipient\n"
          "      --no-pipelining       never pipeline commands (RFC 2920)\n"
          "      --no-chunking         never use BDAT (RFC 3030), always DATA\n"
          "      --timeout SECONDS     connect and per-reply timeout (default: RFC 5321's)\n"
          "      --probe               send no message: EHLO (STARTTLS and AUTH as the options\n"
          "                            say), print the server's capabilities, the TLS version,\n"
          "                            cipher and certificate, the AUTH mechanisms and the SIZE\n"
          "                            limit, then QUIT; no --from, --to or --data\n"
          "\n"
          "TLS (needs a build with mbedTLS):\n"
          "      --starttls            use STARTTLS when the server offers it\n"
          "      --tls-required        use STARTTLS or send nothing\n"
          "      --tls                 implicit TLS from the first byte (RFC 8314)\n"
          "      --cafile FILE         trusted CA certificates (PEM) instead of the system's\n"
          "      --no-verify           do not verify the server's certificate (dangerous)\n"
          "      --requiretls          REQUIRETLS (RFC 8689): every hop must use verified\n"
          "                            TLS; needs --tls-required or --tls, and verification\n"
          "      --dane-tlsa \"U S M HEX\"\n"
          "                            authenticate the server by this TLSA record (DANE,\n"
          "                            RFC 7672; repeat for each record): usage, selector,\n"
          "                            matching type, the data in hexadecimal (as dig +short\n"
          "                            prints it); TLS becomes required, CAs do not count\n"
          "      --dane-name NAME      the TLSA base domain, when it is not --server's host: the\n"
          "                            SNI and a name a DANE-TA certificate may carry\n"
          "      --mta-sts-policy FILE the recipient domain's MTA-STS policy (RFC 8461), as\n"
          "                            fetched: enforce requires verified TLS and an MX the\n"
          "                            policy names; testing reports, then sends anyway\n"
          "      --mta-sts-mx NAME     the MX host the policy is checked for (default: the\n"
          "                            --server host); the certificate must name it\n"
          "\n",
          stdout);
    fputs("Authentication (RFC 4954):\n"
          "      --auth-user USER      authenticate as USER\n"
          "      --auth-password PASS  password (SCRAM-SHA-256, CRAM-MD5, PLAIN, LOGIN) or\n"
          "                            bearer token (XOAUTH2, OAUTHBEARER); visible to other\n"
          "                            users in the process list: prefer the next ways\n"
          "      --auth-password-file FILE\n"
          "                            the password is FILE's first line (without its line\n"
          "                            end)\n"
          "                            Without either: the SMTP_PASSWORD environment variable,\n"
          "                            else a prompt on the terminal (/dev/tty, not echoed) when\n"
          "                            standard error is a terminal, else exit 64\n"
          "      --auth-mech MECH      SCRAM-SHA-256, CRAM-MD5 (both need mbedTLS), PLAIN,\n"
          "                            LOGIN, XOAUTH2 or OAUTHBEARER (default: the strongest\n"
          "                            the server offers)\n"
          "      --allow-insecure-auth authenticate without TLS (password in clear text)\n"
          "\n"
          "Delivery status notifications (DSN, RFC 3461), sent when the server offers DSN:\n"
          "      --dsn-ret FULL|HDRS   return the whole message or its headers in a failure DSN\n"
          "      --dsn-envid ID        envelope identifier quoted in DSNs (printable ASCII)\n"
          "      --dsn-notify WHEN     NEVER, or a comma list of SUCCESS, FAILURE and DELAY,\n"
          "                            for every recipient\n"
          "      --dsn-orcpt           ORCPT=rfc822;ADDR (the original recipient) for each --to\n"
          "      --dsn-required        refuse to send (exit 69) when the server does not offer\n"
          "                            DSN; without it the DSN parameters are left out and a\n"
          "                            warning is printed\n"
          "\n",
          stdout);
    fputs("Output and load:\n"
          "  -v, --verbose             print the protocol transcript on standard error\n"
          "                            (client lines 'C: ', server lines 'S: '; BDAT chunk\n"
          "                            data as 'C: <N octets of BDAT data>'; AUTH's payload and\n"
          "                            the SASL responses as '****')\n"
          "      --show-secrets        show AUTH's payload and the SASL responses in -v\n"
          "  -q, --quiet               print nothing on success\n"
          "      --json                one JSON object per message on standard output, one\n"
          "                            line each, instead of the per-recipient lines: server,\n"
          "                            message (its number from 1), session, from, to, rcpts\n"
          "                            (address, status, code, enhanced, reply), status, code,\n"
          "                            enhanced, reply (every line of a reply, joined by \\n),\n"
          "                            tls (false or version and cipher), connect_ms, total_ms;\n"
          "                            the load summary goes to standard error\n"
          "      --count N             send the message N times per connection (default 1)\n"
          "      --sessions N          open N connections in parallel (default 1); with\n"
          "                            --count or --sessions above 1, print messages/second\n"
          "  -h, --help                show this help and exit\n"
          "      --version             show the version and exit\n"
          "\n"
          "Exit status (sysexits.h): 0 every recipient accepted the message (--probe: the\n"
          "session worked); 64 bad options or empty standard input;\n"
          "69 the message or a recipient was refused permanently (5xx); 74 connection or TLS\n"
          "failure; 75 temporary failure (4xx, timeout, connection lost); 76 the server broke\n"
          "the protocol.\n",
          stdout);
    exit(EX_OK);
}

enum {
    OPT_HELO = 256,
    OPT_LMTP,
    OPT_NO_PIPELINING,
    OPT_NO_CHUNKING,
    OPT_TIMEOUT,
    OPT_STARTTLS,
    OPT_TLS_REQUIRED,
    OPT_TLS,
    OPT_CAFILE,
    OPT_NO_VERIFY,
    OPT_AUTH_USER,
    OPT_AUTH_PASSWORD,
    OPT_AUTH_MECH,
    OPT_INSECURE_AUTH,
    OPT_DSN_RET,
    OPT_DSN_ENVID,
    OPT_DSN_NOTIFY,
    OPT_DSN_ORCPT,
    OPT_DSN_REQUIRED,
    OPT_COUNT,
    OPT_SESSIONS,
    OPT_VERSION,
    OPT_PROBE,
    OPT_REQUIRETLS,
    OPT_AUTH_PASSWORD_FILE,
    OPT_SHOW_SECRETS,
    OPT_JSON,
    OPT_DANE_TLSA,
    OPT_DANE_NAME,
    OPT_MTA_STS_POLICY,
    OPT_MTA_STS_MX
};

static const struct option long_options[] = {
    {"server", required_argument, NULL, 's'},
    {"from", required_argument, NULL, 'f'},
    {"to", required_argument, NULL, 't'},
    {"data", required_argument, NULL, 'd'},
    {"helo", required_argument, NULL, OPT_HELO},
    {"lmtp", no_argument, NULL, OPT_LMTP},
    {"no-pipelining", no_argument, NULL, OPT_NO_PIPELINING},
    {"no-chunking", no_argument, NULL, OPT_NO_CHUNKING},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"starttls", no_argument, NULL, OPT_STARTTLS},
    {"tls-required", no_argument, NULL, OPT_TLS_REQUIRED},
    {"tls", no_argument, NULL, OPT_TLS},
    {"cafile", required_argument, NULL, OPT_CAFILE},
    {"no-verify", no_argument, NULL, OPT_NO_VERIFY},
    {"auth-user", required_argument, NULL, OPT_AUTH_USER},
    {"auth-password", required_argument, NULL, OPT_AUTH_PASSWORD},
    {"auth-mech", required_argument, NULL, OPT_AUTH_MECH},
    {"allow-insecure-auth", no_argument, NULL, OPT_INSECURE_AUTH},
    {"dsn-ret", required_argument, NULL, OPT_DSN_RET},
    {"dsn-envid", required_argument, NULL, OPT_DSN_ENVID},
    {"dsn-notify", required_argument, NULL, OPT_DSN_NOTIFY},
    {"dsn-orcpt", no_argument, NULL, OPT_DSN_ORCPT},
    {"dsn-required", no_argument, NULL, OPT_DSN_REQUIRED},
    {"verbose", no_argument, NULL, 'v'},
    {"quiet", no_argument, NULL, 'q'},
    {"count", required_argument, NULL, OPT_COUNT},
    {"sessions", required_argument, NULL, OPT_SESSIONS},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, OPT_VERSION},
    {"probe", no_argument, NULL, OPT_PROBE},
    {"requiretls", no_argument, NULL, OPT_REQUIRETLS},
    {"auth-password-file", required_argument, NULL, OPT_AUTH_PASSWORD_FILE},
    {"show-secrets", no_argument, NULL, OPT_SHOW_SECRETS},
    {"json", no_argument, NULL, OPT_JSON},
    {"dane-tlsa", required_argument, NULL, OPT_DANE_TLSA},
    {"dane-name", required_argument, NULL, OPT_DANE_NAME},
    {"mta-sts-policy", required_argument, NULL, OPT_MTA_STS_POLICY},
    {"mta-sts-mx", required_argument, NULL, OPT_MTA_STS_MX},
    {NULL, 0, NULL, 0},
};

/* An address as the engine will send it: no brackets, no control byte, a valid path. The
 * error names the value and says what is wrong with it and where. */
static void check_address(const char *opt, const char *addr, int is_sender)
{
    size_t len = strlen(addr);
    if (is_sender && len == 0) return; /* the null reverse-path <> */
    if (len == 0) usage_error("%s: an empty address", opt);
    if (addr[0] == '<') usage_error("%s '%s': give the address without angle brackets", opt, addr);
    char path[1024];
    if (len + 3 > sizeof path) usage_error("%s: address too long (%zu octets)", opt, len);
    snprintf(path, sizeof path, "<%s>", addr);
    smtp_path parsed;
    unsigned flags = SMTP_PATH_UTF8 | (is_sender ? 0 : SMTP_PATH_ALLOW_POSTMASTER);
    int rc = smtp_path_parse(path, len + 2, flags, &parsed);
    if (rc != 0) {
        /* error_at counts the '<' the check added; past the end: the address is cut short */
        size_t at = parsed.error_at > 0 ? parsed.error_at - 1 : 0;
        if (at >= len)
            usage_error("%s '%s': not a valid mailbox (RFC 5321 4.1.2): %s at its end", opt, addr,
                        smtp_error_text(rc));
        usage_error("%s '%s': not a valid mailbox (RFC 5321 4.1.2): %s at octet %zu ('%c')", opt,
                    addr, smtp_error_text(rc), at + 1,
                    (unsigned char)addr[at] >= 0x20 && (unsigned char)addr[at] < 0x7f ? addr[at]
                                                                                      : '?');
    }
}

/* --to takes one address or a comma-separated list ("a@x, b@y"); a comma inside a quoted
 * local part ("a,b"@x) is part of it. Each element is added as given, without the blanks
 * around it; an empty element is an error. The copies live until the program ends. */
static void add_rcpts(send_options *o, const char *arg)
{
    const char *p = arg;
    for (;;) {
        while (*p == ' ' || *p == '\t')
            p++;
        const char *start = p;
        int quoted = 0;
        for (; *p != '\0' && (quoted || *p != ','); p++) {
            if (quoted && *p == '\\' && p[1] != '\0')
                p++;
            else if (*p == '"')
                quoted = !quoted;
        }
        const char *end = p;
        while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
            end--;
        if (end == start) usage_error("--to '%s': an empty address in the list", arg);
        if (o->nrcpts == SEND_MAX_RCPTS)
            usage_error("too many recipients (at most %d)", SEND_MAX_RCPTS);
        char *one = strndup(start, (size_t)(end - start));
        if (one == NULL) {
            fprintf(stderr, PROG ": out of memory\n");
            exit(EX_OSERR);
        }
        o->rcpts[o->nrcpts++] = one;
        if (*p == '\0') return;
        p++; /* the comma */
    }
}

/*
 * --mta-sts-policy FILE (RFC 8461): the policy text as fetched from
 * https://mta-sts.DOMAIN/.well-known/mta-sts.txt (at most 64 KiB, 3.3), parsed here: an
 * unreadable file exits 66, one that is not a policy 65. enforce makes TLS required (or keeps
 * --tls) and verified against the MX name; testing makes it opportunistic, verified and
 * reported only; none changes nothing. DANE takes precedence over MTA-STS (RFC 8461 2): the
 * two options exclude each other here, as do --no-verify and enforce or testing.
 */
static void load_mta_sts(send_options *o, const char *path)
{
#ifndef SMTP_EXAMPLES_HAVE_TLS
    (void)o;
    (void)path;
    usage_error("%s", "--mta-sts-policy: this smtp-send was built without TLS (mbedTLS not found)");
#else
    if (o->dane_ntlsa > 0)
        usage_error("%s", "--mta-sts-policy excludes --dane-tlsa (RFC 8461 2: DANE, where the "
                          "domain has it, takes precedence)");
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, PROG ": --mta-sts-policy %s: cannot read: %s\n", path, strerror(errno));
        exit(EX_NOINPUT);
    }
    enum { MAX = 65536 };
    char *text = malloc(MAX + 1);
    size_t len = text != NULL ? fread(text, 1, MAX + 1, f) : 0;
    int bad = text == NULL || ferror(f);
    fclose(f);
    if (bad) {
        fprintf(stderr, PROG ": --mta-sts-policy %s: cannot read\n", path);
        exit(EX_NOINPUT);
    }
    if (len > MAX) {
        fprintf(stderr, PROG ": --mta-sts-policy %s: over 64 KiB (RFC 8461 3.3)\n", path);
        exit(EX_DATAERR);
    }
    int rc = smtp_mtasts_parse(text, len, &o->mta_sts_policy);
    if (rc != 0) {
        fprintf(stderr, PROG ": --mta-sts-policy %s: not an MTA-STS policy (RFC 8461 3.2): %s\n",
                path, smtp_error_text(rc));
        exit(EX_DATAERR);
    }
    o->mta_sts = 1;
    o->mta_sts_text = text;
    switch (o->mta_sts_policy.mode) {
    case SMTP_MTASTS_ENFORCE:
        if (o->no_verify)
            usage_error("%s", "--mta-sts-policy (enforce) excludes --no-verify (RFC 8461 4: "
                              "the certificate must verify)");
        if (!o->tls) o->tls_required = 1, o->starttls = 0;
        break;
    case SMTP_MTASTS_TESTING:
        if (o->no_verify)
            usage_error("%s", "--mta-sts-policy (testing) excludes --no-verify: the "
                              "certificate is checked to report it");
        if (!o->tls && !o->tls_required) o->starttls = 1;
        break;
    default: break; /* none: the policy asks nothing */
    }
#endif
}

static int is_address(const char *host);

/* The MX the policy is checked for: --mta-sts-mx, else the --server host, a name either way. */
static void mta_sts_mx(send_options *o)
{
    const char *mx = o->mta_sts_mx != NULL ? o->mta_sts_mx : o->host;
    size_t n = strlen(mx);
    smtp_domain d;
    if (n > 0 && mx[n - 1] == '.') n--; /* a final dot is allowed */
    if (smtp_domain_parse(mx, n, 0, &d, NULL) != 0 || d.kind != SMTP_DOMAIN_NAME ||
        is_address(mx)) {
        if (o->mta_sts_mx != NULL) usage_error("--mta-sts-mx: '%s' is not a host name", mx);
        usage_error("--mta-sts-policy: --server %s is an address: name the MX host with "
                    "--mta-sts-mx NAME",
                    mx);
    }
    o->mta_sts_mx = mx;
}

static uint64_t number(const char *opt, const char *arg, uint64_t min, uint64_t max)
{
    uint64_t v;
    if (ex_parse_u64(arg, min, max, &v) != 0) {
        fprintf(stderr, PROG ": %s: expected a whole number from %llu to %llu, got '%s'\n", opt,
                (unsigned long long)min, (unsigned long long)max, arg);
        fprintf(stderr, "Try '" PROG " --help' for more information.\n");
        exit(EX_USAGE);
    }
    return v;
}

/* --dsn-ret: FULL or HDRS (RFC 3461 4.3; keywords in any case). */
static smtp_ret dsn_ret(const char *arg)
{
    if (strcasecmp(arg, "FULL") == 0) return SMTP_RET_FULL;
    if (strcasecmp(arg, "HDRS") == 0) return SMTP_RET_HDRS;
    usage_error("--dsn-ret: '%s' is not FULL or HDRS", arg);
}

/* --dsn-notify: "NEVER", or SUCCESS, FAILURE and DELAY separated by commas, each once
 * (RFC 3461 4.1). */
static unsigned dsn_notify(const char *arg)
{
    static const struct {
        const char *name;
        unsigned bit;
    } words[] = {{"NEVER", SMTP_NOTIFY_NEVER},
                 {"SUCCESS", SMTP_NOTIFY_SUCCESS},
                 {"FAILURE", SMTP_NOTIFY_FAILURE},
                 {"DELAY", SMTP_NOTIFY_DELAY}};
    unsigned bits = 0;
    for (const char *p = arg;;) {
        size_t n = strcspn(p, ",");
        unsigned bit = 0;
        for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
            if (n == strlen(words[i].name) && strncasecmp(p, words[i].name, n) == 0)
                bit = words[i].bit;
        if (bit == 0)
            usage_error("--dsn-notify: '%.*s' is not NEVER, SUCCESS, FAILURE or DELAY", (int)n, p);
        if (bits & bit) usage_error("--dsn-notify: '%.*s' given twice", (int)n, p);
        bits |= bit;
        if (p[n] == '\0') break;
        p += n + 1;
    }
    if ((bits & SMTP_NOTIFY_NEVER) && bits != SMTP_NOTIFY_NEVER)
        usage_error("%s", "--dsn-notify: NEVER excludes SUCCESS, FAILURE and DELAY");
    return bits;
}

/* Printable ASCII (SP included) whose xtext form (RFC 3461 4) is at most `max` characters. */
static void dsn_text(const char *opt, const char *what, const char *s, smtp_ssize max)
{
    for (const char *p = s; *p != '\0'; p++)
        if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
            usage_error("%s: %s '%s' is not printable ASCII%s", opt, what, s,
                        strcmp(what, "recipient") == 0 ? " (ORCPT=rfc822 takes ASCII addresses)"
                                                       : "");
    smtp_ssize n = smtp_xtext_encoded_len(s, strlen(s));
    if (n < 0 || n > max)
        usage_error("%s: %s '%s' is %lld characters in xtext, at most %lld are allowed "
                    "(RFC 3461)",
                    opt, what, s, (long long)n, (long long)max);
}

/* One field of --dane-tlsa after the blanks before it: a number 0..255 followed by a blank
 * or the end. */
static uint8_t tlsa_field(const char *arg, const char **p, const char *what)
{
    static const char form[] = "(expected \"USAGE SELECTOR MTYPE HEX\", e.g. \"3 1 1 0a1b...\")";
    while (**p == ' ' || **p == '\t')
        (*p)++;
    if (**p == '\0') usage_error("--dane-tlsa '%s': no %s %s", arg, what, form);
    unsigned v = 0;
    const char *start = *p;
    for (; **p >= '0' && **p <= '9'; (*p)++) {
        v = v * 10 + (unsigned)(**p - '0');
        if (v > 255) usage_error("--dane-tlsa '%s': the %s is over 255", arg, what);
    }
    if (*p == start || (**p != ' ' && **p != '\t' && **p != '\0'))
        usage_error("--dane-tlsa '%s': the %s is not a number %s", arg, what, form);
    return (uint8_t)v;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/*
 * --dane-tlsa "U S M HEX": a TLSA record in its presentation form (RFC 6698 2.2): the usage,
 * selector and matching type as numbers 0..255 (any value: those the library does not know
 * make the record unusable, RFC 7672 3.1.3), then the data in hexadecimal, blanks allowed
 * inside (dig prints it in groups). The data is copied; it lives until the program ends.
 */
static void add_tlsa(send_options *o, const char *arg)
{
    if (o->dane_ntlsa == SMTP_TLS_DANE_MAX_TLSA)
        usage_error("too many --dane-tlsa (at most %d)", SMTP_TLS_DANE_MAX_TLSA);
    smtp_tls_tlsa *r = &o->dane_tlsa[o->dane_ntlsa];
    const char *p = arg;
    r->usage = tlsa_field(arg, &p, "usage");
    r->selector = tlsa_field(arg, &p, "selector");
    r->mtype = tlsa_field(arg, &p, "matching type");
    size_t digits = 0;
    for (const char *q = p; *q != '\0'; q++) {
        if (*q == ' ' || *q == '\t') continue;
        if (hex_value(*q) < 0)
            usage_error("--dane-tlsa '%s': '%c' at octet %zu is not a hexadecimal digit", arg,
                        (unsigned char)*q >= 0x20 && (unsigned char)*q < 0x7f ? *q : '?',
                        (size_t)(q - arg) + 1);
        digits++;
    }
    if (digits == 0) usage_error("--dane-tlsa '%s': no association data after \"U S M\"", arg);
    if (digits % 2 != 0)
        usage_error("--dane-tlsa '%s': an odd number of hexadecimal digits (%zu)", arg, digits);
    if (digits / 2 > SMTP_TLS_DANE_MAX_DATA)
        usage_error("--dane-tlsa: over %d octets of data", SMTP_TLS_DANE_MAX_DATA);
    unsigned char *data = malloc(digits / 2);
    if (data == NULL) {
        fprintf(stderr, PROG ": out of memory\n");
        exit(EX_OSERR);
    }
    size_t n = 0;
    int high = -1;
    for (; *p != '\0'; p++) {
        int v = hex_value(*p);
        if (v < 0) continue; /* a blank */
        if (high < 0) {
            high = v;
        } else {
            data[n++] = (unsigned char)(high << 4 | v);
            high = -1;
        }
    }
    r->data = data;
    r->len = n;
    o->dane_ntlsa++;
}

/* Is the host of --server an IP address (no TLSA base domain then)? */
static int is_address(const char *host)
{
    unsigned char addr[16];
    return inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, host, addr) == 1;
}

/* --version: the library's version, and whether U-labels are converted (IDNA: libidn2). */
static void version(void)
{
    printf(PROG " (libsmtp %s)\n", smtp_lib_version());
#ifdef SMTP_EXAMPLES_HAVE_IDN
    puts("IDNA: yes (libidn2): U-labels go as A-labels to a server without SMTPUTF8");
#else
    puts("IDNA: no (built without libidn2): U-labels need a server with SMTPUTF8");
#endif
    exit(EX_OK);
}

/* --helo: a domain or an address literal; with IDNA, U-labels too (sent as A-labels). */
static void check_helo(const char *helo)
{
    smtp_domain d;
    int rc = smtp_domain_parse(helo, strlen(helo), SMTP_PATH_UTF8, &d, NULL);
    if (rc != 0) usage_error("--helo: '%s' is not a domain or an address literal", helo);
#ifdef SMTP_EXAMPLES_HAVE_IDN
    char a[256];
    rc = d.utf8 ? smtp_idn_to_ascii(helo, strlen(helo), a, sizeof a) : 0;
    if (rc < 0)
        usage_error("--helo: '%s' has no A-label form (IDNA2008): %s", helo, smtp_error_text(rc));
#else
    if (d.utf8)
        usage_error("--helo: '%s' holds UTF-8: this smtp-send was built without IDNA (libidn2)",
                    helo);
#endif
}

static void default_helo(send_options *o)
{
    static char host[256];
    if (gethostname(host, sizeof host) == 0) {
        host[sizeof host - 1] = '\0';
        smtp_domain d;
        if (smtp_domain_parse(host, strlen(host), 0, &d, NULL) == 0) {
            o->helo = host;
            return;
        }
    }
    o->helo = "localhost";
}

/* A password: up to 1023 octets, kept for the program's life. */
static char password[1024];

/* --auth-password-file: the first line, without its LF (or CRLF). */
static const char *password_from_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) usage_error("--auth-password-file: cannot open %s: %s", path, strerror(errno));
    int ok = fgets(password, sizeof password, f) != NULL;
    fclose(f);
    if (!ok) usage_error("--auth-password-file: %s is empty", path);
    size_t n = strlen(password);
    if (n > 0 && password[n - 1] == '\n') {
        password[--n] = '\0';
        if (n > 0 && password[n - 1] == '\r') password[--n] = '\0';
    } else if (n == sizeof password - 1) {
        usage_error("--auth-password-file: the first line of %s is over %zu octets", path,
                    sizeof password - 2);
    }
    if (n == 0) usage_error("--auth-password-file: the first line of %s is empty", path);
    return password;
}

/* The password asked on the terminal (/dev/tty: standard input carries the message), not
 * echoed. Only when standard error is a terminal too: a script never waits on a prompt.
 * NULL when there is no terminal to ask on. */
static const char *password_from_tty(const char *user)
{
    if (!isatty(STDERR_FILENO)) return NULL;
    int fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) return NULL;
    FILE *tty = fdopen(fd, "r+");
    if (tty == NULL) {
        close(fd);
        return NULL;
    }
    struct termios old, quiet;
    int restore = tcgetattr(fd, &old) == 0;
    if (restore) {
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        quiet.c_lflag |= ECHONL;
        (void)tcsetattr(fd, TCSAFLUSH, &quiet);
    }
    fprintf(tty, "Password for %s: ", user);
    fflush(tty);
    int ok = fgets(password, sizeof password, tty) != NULL;
    if (restore) (void)tcsetattr(fd, TCSAFLUSH, &old);
    fclose(tty);
    if (!ok) usage_error("%s", "no password read from the terminal");
    password[strcspn(password, "\r\n")] = '\0';
    if (password[0] == '\0') usage_error("%s", "empty password");
    return password;
}

/* --auth-user without --auth-password: --auth-password-file, SMTP_PASSWORD, the terminal. */
static void find_password(send_options *o, const char *file)
{
    if (o->auth_password != NULL) return;
    if (file != NULL) {
        o->auth_password = password_from_file(file);
        return;
    }
    const char *env = getenv("SMTP_PASSWORD");
    if (env != NULL && env[0] != '\0') {
        o->auth_password = env;
        return;
    }
    o->auth_password = password_from_tty(o->auth_user);
    if (o->auth_password == NULL)
        usage_error("%s", "--auth-user needs a password: --auth-password, --auth-password-file, "
                          "SMTP_PASSWORD, or a terminal to ask on");
}

static void parse_options(int argc, char **argv, send_options *o)
{
    const char *server = NULL, *data = NULL, *password_file = NULL, *policy_file = NULL;
    int count_given = 0, sessions_given = 0;
    int opt;
    while ((opt = getopt_long(argc, argv, "s:f:t:d:vqh", long_options, NULL)) != -1) {
        switch (opt) {
        case 's': server = optarg; break;
        case 'f': o->from = optarg; break;
        case 't': add_rcpts(o, optarg); break;
        case 'd': data = optarg; break;
        case OPT_HELO: o->helo = optarg; break;
        case OPT_LMTP: o->lmtp = 1; break;
        case OPT_NO_PIPELINING: o->no_pipelining = 1; break;
        case OPT_NO_CHUNKING: o->no_chunking = 1; break;
        case OPT_TIMEOUT:
            o->timeout_ms = 1000 * (uint32_t)number("--timeout", optarg, 1, 86400);
            break;
        case OPT_STARTTLS: o->starttls = 1; break;
        case OPT_TLS_REQUIRED: o->tls_required = 1; break;
        case OPT_TLS: o->tls = 1; break;
        case OPT_CAFILE: o->cafile = optarg; break;
        case OPT_NO_VERIFY: o->no_verify = 1; break;
        case OPT_AUTH_USER: o->auth_user = optarg; break;
        case OPT_AUTH_PASSWORD: o->auth_password = optarg; break;
        case OPT_AUTH_MECH: o->auth_mech = optarg; break;
        case OPT_INSECURE_AUTH: o->insecure_auth = 1; break;
        case OPT_DSN_RET: o->dsn_ret = dsn_ret(optarg); break;
        case OPT_DSN_ENVID: o->dsn_envid = optarg; break;
        case OPT_DSN_NOTIFY: o->dsn_notify = dsn_notify(optarg); break;
        case OPT_DSN_ORCPT: o->dsn_orcpt = 1; break;
        case OPT_DSN_REQUIRED: o->dsn_required = 1; break;
        case 'v': o->verbose = 1; break;
        case 'q': o->quiet = 1; break;
        case OPT_COUNT:
            o->count = (size_t)number("--count", optarg, 1, 10000000);
            count_given = 1;
            break;
        case OPT_SESSIONS:
            o->sessions = (size_t)number("--sessions", optarg, 1, 1000);
            sessions_given = 1;
            break;
        case OPT_PROBE: o->probe = 1; break;
        case OPT_REQUIRETLS: o->requiretls = 1; break;
        case OPT_AUTH_PASSWORD_FILE: password_file = optarg; break;
        case OPT_SHOW_SECRETS: o->show_secrets = 1; break;
        case OPT_JSON: o->json = 1; break;
        case OPT_DANE_TLSA: add_tlsa(o, optarg); break;
        case OPT_DANE_NAME: o->dane_name = optarg; break;
        case OPT_MTA_STS_POLICY: policy_file = optarg; break;
        case OPT_MTA_STS_MX: o->mta_sts_mx = optarg; break;
        case 'h': help(); break;
        case OPT_VERSION: version(); break;
        default: fprintf(stderr, "Try '" PROG " --help' for more information.\n"); exit(EX_USAGE);
        }
    }
    if (optind < argc) usage_error("unexpected argument '%s'", argv[optind]);
    if (o->probe) {
        if (o->from != NULL || o->nrcpts > 0 || data != NULL)
            usage_error("%s", "--probe sends no message: no --from, --to or --data");
        if (o->json) usage_error("%s", "--probe sends no message: no --json");
        if (count_given || sessions_given)
            usage_error("%s", "--probe opens one session: no --count or --sessions");
        if (o->dsn_ret != SMTP_RET_NONE || o->dsn_envid != NULL || o->dsn_notify != 0 ||
            o->dsn_orcpt || o->dsn_required)
            usage_error("%s", "--probe sends no message: no --dsn-* option");
        o->from = "";
    }
    if (o->from == NULL) usage_error("%s", "--from is required (--from '' sends the null path <>)");
    if (o->nrcpts == 0 && !o->probe) usage_error("%s", "at least one --to is required");
    check_address("--from", o->from, 1);
    for (size_t i = 0; i < o->nrcpts; i++)
        check_address("--to", o->rcpts[i], 0);

    if (o->tls + (o->starttls || o->tls_required) > 1)
        usage_error("%s", "--tls (implicit TLS) excludes --starttls and --tls-required");
    if (o->mta_sts_mx != NULL && policy_file == NULL)
        usage_error("%s", "--mta-sts-mx needs --mta-sts-policy");
    if (policy_file != NULL) load_mta_sts(o, policy_file);
    if ((o->cafile != NULL || o->no_verify) && !o->tls && !o->starttls && !o->tls_required)
        usage_error("%s", "--cafile and --no-verify need --tls, --starttls or --tls-required");
    if (o->cafile != NULL && o->no_verify)
        usage_error("%s", "--cafile and --no-verify exclude each other");
    /* RFC 8689 4.2: REQUIRETLS only over TLS whose server certificate was verified. */
    /* (--dane-tlsa makes TLS required: --starttls with it is enough) */
    if (o->requiretls && !o->tls && !o->tls_required && o->dane_ntlsa == 0)
        usage_error("%s", "--requiretls needs --tls-required or --tls (RFC 8689: the message "
                          "goes over verified TLS only)");
    if (o->requiretls && o->no_verify)
        usage_error("%s", "--requiretls excludes --no-verify (RFC 8689 4.2: the server's "
                          "certificate must be verified)");
    if (o->dane_ntlsa > 0 && !o->tls && !o->starttls && !o->tls_required)
        usage_error("%s", "--dane-tlsa needs --tls, --starttls or --tls-required");
    if (o->dane_ntlsa > 0 && (o->cafile != NULL || o->no_verify))
        usage_error("%s", "--dane-tlsa authenticates the server by its TLSA records: no "
                          "--cafile or --no-verify");
    if (o->dane_name != NULL && o->dane_ntlsa == 0)
        usage_error("%s", "--dane-name needs --dane-tlsa");
#ifndef SMTP_EXAMPLES_HAVE_TLS
    if (o->tls || o->starttls || o->tls_required || o->cafile != NULL || o->no_verify ||
        o->dane_ntlsa > 0)
        usage_error("%s", "this smtp-send was built without TLS (mbedTLS not found)");
#endif
    if (o->cafile != NULL && access(o->cafile, R_OK) != 0)
        usage_error("--cafile: cannot read %s", o->cafile);

    if (o->auth_user == NULL && o->auth_password != NULL)
        usage_error("%s", "--auth-user and --auth-password go together");
    if (password_file != NULL && o->auth_password != NULL)
        usage_error("%s", "--auth-password and --auth-password-file exclude each other");
    if (password_file != NULL && o->auth_user == NULL)
        usage_error("%s", "--auth-password-file needs --auth-user");
    if (o->auth_mech != NULL) {
        static const char *const mechs[] = {"PLAIN",       "LOGIN",    "XOAUTH2",
                                            "OAUTHBEARER", "CRAM-MD5", "SCRAM-SHA-256"};
        size_t known = 0;
        for (size_t i = 0; i < sizeof mechs / sizeof mechs[0]; i++)
            if (strcmp(o->auth_mech, mechs[i]) == 0) known = i + 1;
        if (!known)
            usage_error("--auth-mech: '%s' is not SCRAM-SHA-256, CRAM-MD5, PLAIN, LOGIN, XOAUTH2 "
                        "or OAUTHBEARER",
                        o->auth_mech);
#ifndef SMTP_EXAMPLES_HAVE_TLS
        /* Their hashes and random bytes come from mbedTLS (smtp_tls_crypto). */
        if (known > 4)
            usage_error("--auth-mech %s: this smtp-send was built without mbedTLS", o->auth_mech);
#endif
        if (o->auth_user == NULL) usage_error("%s", "--auth-mech needs --auth-user");
    }
    if (o->insecure_auth && o->auth_user == NULL)
        usage_error("%s", "--allow-insecure-auth needs --auth-user");

    if (o->dsn_envid != NULL) {
        if (o->dsn_envid[0] == '\0') usage_error("%s", "--dsn-envid: empty identifier");
        dsn_text("--dsn-envid", "identifier", o->dsn_envid, 100); /* RFC 3461 4.4 */
    }
    if (o->dsn_orcpt) /* RFC 3461 4.2: "rfc822;" and the xtext, 500 characters at most */
        for (size_t i = 0; i < o->nrcpts; i++)
            dsn_text("--dsn-orcpt", "recipient", o->rcpts[i], 500 - 7);
    if (o->dsn_required && o->dsn_ret == SMTP_RET_NONE && o->dsn_envid == NULL &&
        o->dsn_notify == 0 && !o->dsn_orcpt)
        usage_error("%s", "--dsn-required needs --dsn-ret, --dsn-envid, --dsn-notify or "
                          "--dsn-orcpt");

    if (o->helo == NULL) default_helo(o);
    check_helo(o->helo);

    const char *why;
    if (ex_parse_endpoint(server != NULL ? server : "localhost", o->tls ? "465" : "25", 0, o->host,
                          sizeof o->host, o->port, sizeof o->port, &why) != 0)
        usage_error("--server: %s", why);
    if (o->dane_name != NULL) {
        smtp_domain dn;
        size_t n = strlen(o->dane_name);
        if (n > 0 && o->dane_name[n - 1] == '.') n--; /* a final dot is allowed */
        if (smtp_domain_parse(o->dane_name, n, 0, &dn, NULL) != 0 || dn.kind != SMTP_DOMAIN_NAME)
            usage_error("--dane-name: '%s' is not a domain name", o->dane_name);
    } else if (o->dane_ntlsa > 0 && is_address(o->host)) {
        usage_error("--dane-tlsa: --server %s is an address: give the TLSA base domain with "
                    "--dane-name",
                    o->host);
    }
    if (o->mta_sts) mta_sts_mx(o);
    o->data_path = data;
    /* Last: no prompt for a command line that is wrong anyway. */
    if (o->auth_user != NULL) find_password(o, password_file);
}

/* Reads the whole message: it may be sent many times, and SIZE= declares its length as
 * transmitted (send.c). */
static void read_message(send_options *o)
{
    FILE *f = stdin;
    const char *name = "standard input";
    if (o->data_path != NULL && strcmp(o->data_path, "-") != 0) {
        name = o->data_path;
        f = fopen(name, "rb");
        if (f == NULL) {
            fprintf(stderr, PROG ": --data: cannot open %s: %s\n", name, strerror(errno));
            exit(EX_NOINPUT);
        }
    }
    size_t cap = 65536, len = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (buf == NULL) {
            fprintf(stderr, PROG ": out of memory reading %s\n", name);
            exit(EX_OSERR);
        }
        size_t n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (n == 0) break;
        if (len == cap) buf = realloc(buf, cap *= 2);
    }
    if (ferror(f)) {
        fprintf(stderr, PROG ": cannot read %s: %s\n", name, strerror(errno));
        exit(EX_NOINPUT);
    }
    if (f != stdin) fclose(f);
    if (f == stdin && len == 0) {
        /* Most likely a mistake (a pipe that produced nothing, a forgotten --data): an empty
         * message on purpose comes from an empty file, such as --data /dev/null. */
        fprintf(stderr, PROG ": standard input is empty: no message sent (--data /dev/null "
                             "sends an empty message)\n");
        exit(EX_USAGE);
    }
    o->body = buf;
    o->body_len = len;
}

int main(int argc, char **argv)
{
    send_options o;
    memset(&o, 0, sizeof o);
    o.count = 1;
    o.sessions = 1;
    parse_options(argc, argv, &o);
    if (!o.probe) read_message(&o);
    int status = send_run(&o);
    free(o.body);
    for (size_t i = 0; i < o.nrcpts; i++)
        free((char *)o.rcpts[i]); /* add_rcpts' copies */
    for (size_t i = 0; i < o.dane_ntlsa; i++)
        free((void *)o.dane_tlsa[i].data); /* add_tlsa's */
    free(o.mta_sts_text);
    return status;
}
