/* SPDX-License-Identifier: MIT */
/*
 * smtp-sink: a receiving SMTP or LMTP server that really takes the mail (like Postfix's
 * smtp-sink, but it stores messages in a Maildir or counts them, and prints one JSON line per
 * message). Built on libsmtp's server engine and the I/O adapter's multi-connection loop.
 *
 * This file checks the options (any mistake exits 64, EX_USAGE; a file it cannot read 66,
 * EX_NOINPUT); sink.c runs the server (a malformed file: 65, EX_DATAERR).
 */
#include "args.h"
#include "sink.h"
#include "workers.h"
#ifdef SMTP_EXAMPLES_HAVE_TLS
#include "tls_glue.h"
#endif

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PROG "smtp-sink"

#define usage_error(...) ex_usage_error(PROG, __VA_ARGS__)

static void help(void)
{
    fputs("Usage: " PROG " [OPTION]... (--maildir DIR | --discard)\n"
          "Receive mail over SMTP or LMTP; print one JSON line per accepted message.\n"
          "\n"
          "  -l, --listen ADDR:PORT     address to listen on (default 127.0.0.1:2525);\n"
          "                             IPv6 as [ADDR]:PORT, '*:PORT' for every address,\n"
          "                             port 0 for one the kernel chooses (printed on stderr);\n"
          "                             a bare PORT is 127.0.0.1:PORT\n"
          "  -m, --maildir DIR          store each message in the Maildir DIR (created if\n"
          "                             missing), fsynced before the 250 reply\n"
          "      --discard              store nothing, only count (\"file\": null)\n"
          "      --lmtp                 speak LMTP (RFC 2033) instead of SMTP\n"
          "      --hostname NAME        name in the greeting and EHLO reply (default: this\n"
          "                             host's name)\n"
          "      --max-size BYTES       largest message accepted (default 10240000; 0: none)\n"
          "      --max-recipients N     recipients per message; more get 452 4.5.3\n"
          "      --max-connections N    connections served at once (default 1000)\n"
          "      --max-messages N       messages per connection, then 421 (default: no limit)\n"
          "      --workers N            N processes sharing the port (SO_REUSEPORT), 1 to 64\n"
          "                             (default 1); --max-connections counts per worker\n"
          "      --bare-lf POLICY       a bare LF or CR in DATA: reject (550 5.6.0, the\n"
          "                             default), normalize (to CRLF) or allow (keep it)\n"
          "      --lenient              accept client bugs: HELO without a name, MAIL FROM\n"
          "                             without <>, commands ended by a bare LF\n"
          "      --pipelining-strict    554 and close when a client talks before its reply\n"
          "                             (RFC 2920 synchronization, as Postfix does)\n"
          "      --proxy-protocol       expect a HAProxy PROXY v1/v2 header first\n"
          "\n"
          "Fault injection, to test clients (each repeatable; the first matching rule wins):\n"
          "      --reply 'CMD[#N]:CODE [X.Y.Z] [TEXT]'\n"
          "                             answer CMD (its Nth time in the connection, else\n"
          "                             every time) with CODE: 4xx/5xx, or 250 (251, 252 for\n"
          "                             RCPT, VRFY); e.g. 'RCPT#2:550 5.1.1 no such user'\n"
          "      --disconnect 'CMD[#N]' close the connection without a reply at CMD\n"
          "      --delay 'CMD[#N]:MS'   answer CMD MS milliseconds late\n"
          "                             CMD: CONNECT (the greeting), HELO (EHLO, LHLO), MAIL,\n"
          "                             RCPT, DATA (the first BDAT), '.' (the end of the\n"
          "                             data, also BDAT LAST) or VRFY\n"
          "\n"
          "TLS and authentication (TLS needs a build with mbedTLS):\n"
          "      --tls-cert FILE        certificate chain (PEM); with --tls-key, offer STARTTLS\n"
          "      --tls-key FILE         private key (PEM)\n"
          "      --implicit-tls         TLS from the first byte (RFC 8314), no STARTTLS\n"
          "      --tls-tickets SECONDS  issue TLS 1.2 session tickets good for SECONDS (1 to\n"
          "                             86400; RFC 5077): resumed handshakes are cheap, but\n"
          "                             their forward secrecy waits for the key's end\n"
          "      --auth-file FILE       'user:password' lines: offer AUTH PLAIN and LOGIN,\n"
          "                             with mbedTLS SCRAM-SHA-256 and CRAM-MD5 too; or\n"
          "                             'user:{SCRAM-SHA-256}ITER,SALT,STORED,SERVER' lines\n"
          "                             (no password kept; --make-scram); over TLS only\n"
          "                             unless --allow-insecure-auth\n"
          "      --allow-insecure-auth  offer AUTH without TLS (passwords in clear text)\n"
          "      --make-scram USER      read a password on standard input, print USER's\n"
          "                             SCRAM-SHA-256 line for --auth-file, and exit\n"
          "\n"
          "  -v, --verbose              log connections (peer, TLS) and each command and reply\n"
          "                             on standard error (AUTH masked, message content\n"
          "                             summarised)\n"
          "  -h, --help                 show this help and exit\n"
          "      --version              show the version and exit\n"
          "\n",
          stdout);
    fputs("Each accepted message prints {\"from\", \"to\": [...], \"size\", \"file\", \"helo\",\n"
          "\"tls\", \"auth\", \"peer\", \"time\", \"conn\", \"tls_version\", \"tls_cipher\",\n"
          "\"requiretls\"}\n"
          "on one line: peer \"ADDR:PORT\" (\"[ADDR]:PORT\" for IPv6; with --proxy-protocol\n"
          "the PROXY header's client), time RFC 3339 in UTC, conn the connection's number\n"
          "(as -v logs it), tls_version and tls_cipher null without TLS, requiretls true\n"
          "when MAIL asked for REQUIRETLS (offered over TLS).\n"
          "SIGINT or SIGTERM: stop accepting, let open transactions finish, exit 0.\n"
          "\n"
          "Exit status: 0 stopped by a signal; 64 bad options; 65 a malformed --tls-cert,\n"
          "--tls-key or --auth-file; 66 one of them unreadable; 69 cannot listen; 70 an\n"
          "internal failure or a worker that died; 71 a worker cannot start; 73 cannot\n"
          "create the Maildir.\n",
          stdout);
    exit(EX_OK);
}

enum {
    OPT_DISCARD = 256,
    OPT_LMTP,
    OPT_HOSTNAME,
    OPT_MAX_SIZE,
    OPT_MAX_RCPTS,
    OPT_MAX_CONNS,
    OPT_MAX_MSGS,
    OPT_WORKERS,
    OPT_BARE_LF,
    OPT_LENIENT,
    OPT_STRICT,
    OPT_PROXY,
    OPT_TLS_CERT,
    OPT_TLS_KEY,
    OPT_IMPLICIT_TLS,
    OPT_TLS_TICKETS,
    OPT_AUTH_FILE,
    OPT_INSECURE_AUTH,
    OPT_MAKE_SCRAM,
    OPT_REPLY,
    OPT_DISCONNECT,
    OPT_DELAY,
    OPT_VERSION
};

static const struct option long_options[] = {
    {"listen", required_argument, NULL, 'l'},
    {"maildir", required_argument, NULL, 'm'},
    {"discard", no_argument, NULL, OPT_DISCARD},
    {"lmtp", no_argument, NULL, OPT_LMTP},
    {"hostname", required_argument, NULL, OPT_HOSTNAME},
    {"max-size", required_argument, NULL, OPT_MAX_SIZE},
    {"max-recipients", required_argument, NULL, OPT_MAX_RCPTS},
    {"max-connections", required_argument, NULL, OPT_MAX_CONNS},
    {"max-messages", required_argument, NULL, OPT_MAX_MSGS},
    {"workers", required_argument, NULL, OPT_WORKERS},
    {"bare-lf", required_argument, NULL, OPT_BARE_LF},
    {"lenient", no_argument, NULL, OPT_LENIENT},
    {"pipelining-strict", no_argument, NULL, OPT_STRICT},
    {"proxy-protocol", no_argument, NULL, OPT_PROXY},
    {"tls-cert", required_argument, NULL, OPT_TLS_CERT},
    {"tls-key", required_argument, NULL, OPT_TLS_KEY},
    {"implicit-tls", no_argument, NULL, OPT_IMPLICIT_TLS},
    {"tls-tickets", required_argument, NULL, OPT_TLS_TICKETS},
    {"auth-file", required_argument, NULL, OPT_AUTH_FILE},
    {"allow-insecure-auth", no_argument, NULL, OPT_INSECURE_AUTH},
    {"make-scram", required_argument, NULL, OPT_MAKE_SCRAM},
    {"reply", required_argument, NULL, OPT_REPLY},
    {"disconnect", required_argument, NULL, OPT_DISCONNECT},
    {"delay", required_argument, NULL, OPT_DELAY},
    {"verbose", no_argument, NULL, 'v'},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, OPT_VERSION},
    {NULL, 0, NULL, 0},
};

/* --tls-tickets: the lifetime of the session tickets; 0: none (ex_tls_server_tickets). */
static unsigned tls_tickets;

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

/* The greeting's first word: 1-255 printable ASCII octets without SP (server.h). */
static int hostname_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 255) return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f) return 0;
    return 1;
}

/* A file named by an option must open for reading and not be a directory: else exit 66
 * (EX_NOINPUT). What it holds is checked when it is loaded (sink.c: 65, EX_DATAERR). */
static void readable(const char *opt, const char *path)
{
    int fd = open(path, O_RDONLY);
    struct stat st;
    int err = fd < 0 ? errno : fstat(fd, &st) != 0 ? errno : S_ISDIR(st.st_mode) ? EISDIR : 0;
    if (fd >= 0) close(fd);
    if (err != 0) {
        fprintf(stderr, PROG ": %s: cannot read %s: %s\n", opt, path, strerror(err));
        exit(EX_NOINPUT);
    }
}

/* Only digits: a bare port. */
static int all_digits(const char *s)
{
    if (*s == '\0') return 0;
    for (; *s != '\0'; s++)
        if (*s < '0' || *s > '9') return 0;
    return 1;
}

static void fault(sink_options *o, ex_fault_kind kind, const char *opt, const char *spec)
{
    char why[160];
    if (ex_faults_add(&o->faults, kind, spec, why, sizeof why) != 0)
        usage_error("%s '%s': %s", opt, spec, why);
}

static void parse_options(int argc, char **argv, sink_options *o)
{
    const char *listen = "127.0.0.1:2525";
    int opt;
    while ((opt = getopt_long(argc, argv, "l:m:vh", long_options, NULL)) != -1) {
        switch (opt) {
        case 'l': listen = optarg; break;
        case 'm': o->maildir = optarg; break;
        case OPT_DISCARD: o->discard = 1; break;
        case OPT_LMTP: o->lmtp = 1; break;
        case OPT_HOSTNAME: o->hostname = optarg; break;
        case OPT_MAX_SIZE:
            o->max_size = number("--max-size", optarg, 0, UINT64_MAX / 2);
            o->max_size_set = 1;
            break;
        case OPT_MAX_RCPTS:
            o->max_recipients = (size_t)number("--max-recipients", optarg, 1, 100000);
            break;
        case OPT_MAX_CONNS:
            o->max_connections = (size_t)number("--max-connections", optarg, 1, 1000000);
            break;
        case OPT_MAX_MSGS:
            o->max_messages = (size_t)number("--max-messages", optarg, 1, 100000000);
            break;
        case OPT_WORKERS:
            o->workers = (size_t)number("--workers", optarg, 1, EX_WORKERS_MAX);
            break;
        case OPT_BARE_LF:
            if (strcmp(optarg, "reject") == 0)
                o->bare_policy = SMTP_DATA_BARE_REJECT;
            else if (strcmp(optarg, "normalize") == 0)
                o->bare_policy = SMTP_DATA_BARE_NORMALIZE;
            else if (strcmp(optarg, "allow") == 0)
                o->bare_policy = SMTP_DATA_BARE_ALLOW;
            else
                usage_error("--bare-lf: '%s' is not reject, normalize or allow", optarg);
            break;
        case OPT_LENIENT: o->lenient = 1; break;
        case OPT_STRICT: o->pipelining_strict = 1; break;
        case OPT_PROXY: o->proxy_protocol = 1; break;
        case OPT_TLS_CERT: o->tls_cert = optarg; break;
        case OPT_TLS_KEY: o->tls_key = optarg; break;
        case OPT_IMPLICIT_TLS: o->implicit_tls = 1; break;
        case OPT_TLS_TICKETS:
            tls_tickets = (unsigned)number("--tls-tickets", optarg, 1, 86400);
            break;
        case OPT_AUTH_FILE: o->auth_file = optarg; break;
        case OPT_INSECURE_AUTH: o->insecure_auth = 1; break;
        case OPT_MAKE_SCRAM: o->make_scram = optarg; break;
        case OPT_REPLY: fault(o, EX_FAULT_REPLY, "--reply", optarg); break;
        case OPT_DISCONNECT: fault(o, EX_FAULT_DISCONNECT, "--disconnect", optarg); break;
        case OPT_DELAY: fault(o, EX_FAULT_DELAY, "--delay", optarg); break;
        case 'v': o->verbose = 1; break;
        case 'h': help(); break;
        case OPT_VERSION: printf(PROG " (libsmtp %s)\n", smtp_lib_version()); exit(EX_OK);
        default: fprintf(stderr, "Try '" PROG " --help' for more information.\n"); exit(EX_USAGE);
        }
    }
    if (optind < argc) usage_error("unexpected argument '%s'", argv[optind]);
    if (o->make_scram != NULL) {
        /* The user name of an --auth-file line: no ':', no control byte. */
        const char *u = o->make_scram;
        int ok = u[0] != '\0';
        for (; *u; u++)
            ok &= *u != ':' && (unsigned char)*u >= 0x20 && *u != 0x7f;
        if (!ok) usage_error("--make-scram: '%s' is not a user name of --auth-file", o->make_scram);
#ifndef SMTP_EXAMPLES_HAVE_TLS
        usage_error("%s", "--make-scram: this smtp-sink was built without mbedTLS");
#endif
        return;
    }
    if ((o->maildir == NULL) == !o->discard)
        usage_error("%s", "give exactly one of --maildir DIR and --discard");
    if (o->maildir != NULL && o->maildir[0] == '\0') usage_error("%s", "--maildir: empty path");

    const char *why;
    const char *spec = listen;
    char buf[EX_HOST_MAX + 16];
    if (listen[0] == '*' && (listen[1] == ':' || listen[1] == '\0')) {
        o->any_host = 1;
        snprintf(buf, sizeof buf, "any%s", listen + 1);
        spec = buf;
    } else if (all_digits(listen)) {
        /* "2525": a port on the loopback address, not a host named 2525 (0.0.9.221). */
        snprintf(buf, sizeof buf, "127.0.0.1:%s", listen);
        spec = buf;
    }
    if (ex_parse_endpoint(spec, "2525", 1, o->host, sizeof o->host, o->port, sizeof o->port,
                          &why) != 0)
        usage_error("--listen: %s", why);
    if (o->hostname != NULL && !hostname_ok(o->hostname))
        usage_error("--hostname: '%s' must be 1-255 printable characters without spaces",
                    o->hostname);

    int tls = o->tls_cert != NULL || o->tls_key != NULL || o->implicit_tls;
#ifndef SMTP_EXAMPLES_HAVE_TLS
    if (tls) usage_error("%s", "this smtp-sink was built without TLS (mbedTLS not found)");
#endif
    if (tls && (o->tls_cert == NULL || o->tls_key == NULL))
        usage_error("%s", "--tls-cert, --tls-key and --implicit-tls need both --tls-cert and "
                          "--tls-key");
    if (tls_tickets > 0 && !tls) usage_error("%s", "--tls-tickets needs --tls-cert and --tls-key");
#ifdef SMTP_EXAMPLES_HAVE_TLS
    ex_tls_server_tickets(tls_tickets);
#endif
    if (o->auth_file != NULL && !tls && !o->insecure_auth)
        usage_error("%s", "--auth-file: AUTH is offered only over TLS: add --tls-cert and "
                          "--tls-key, or --allow-insecure-auth");
    if (o->insecure_auth && o->auth_file == NULL)
        usage_error("%s", "--allow-insecure-auth needs --auth-file");
    /* The files last: a bad command line is 64 whatever its files are. */
    if (o->tls_cert != NULL) readable("--tls-cert", o->tls_cert);
    if (o->tls_key != NULL) readable("--tls-key", o->tls_key);
    if (o->auth_file != NULL) readable("--auth-file", o->auth_file);
}

int main(int argc, char **argv)
{
    sink_options o;
    memset(&o, 0, sizeof o);
    parse_options(argc, argv, &o);
    int status = o.make_scram != NULL ? sink_make_scram(o.make_scram) : sink_run(&o);
    ex_faults_free(&o.faults);
    return status;
}
