#!/bin/sh
# SPDX-License-Identifier: MIT
# The core is sans-I/O (docs/DESIGN.md, "Layers"). Two checks:
# 1. The include direction, on the sources: a core file never includes an engine's header or
#    internal header, an engine never includes the other engine's internal header, and no file
#    of the core or the engines includes an adapter's header or a socket, poll, clock, thread,
#    TLS or IDNA (libidn2) header.
# 2. On the built static library: the objects may call only pure libc functions (memory,
#    string and in-memory formatting: snprintf writes to a buffer, never a stream). It lists
#    every undefined symbol of each object in libsmtp.a (nm -u) and fails on any symbol outside
#    the allow-list below: no socket, file, poll, clock, sleep or thread call can slip in. It
#    also checks that only mem.c calls the C allocator (everything else goes through smtp_mem).
#    A shared build skips this part.
# Usage: sans_io.sh LIBSMTP SOURCE_DIR
set -eu
lib=$1
src=$2
status=0
checked=0
for f in "$src"/lib/*.c "$src"/lib/*.h; do
    name=$(basename "$f")
    incs=$(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"]\([^>"]*\)[>"].*/\1/p' "$f")
    checked=$((checked + 1))
    for inc in $incs; do
        bad=
        case "$inc" in
        smtp/io.h|smtp/tls.h|smtp/idn.h|sys/socket.h|netinet/*|arpa/*|netdb.h|poll.h|sys/epoll.h|\
        unistd.h|time.h|sys/time.h|pthread.h|threads.h|signal.h|fcntl.h|stdio.h|mbedtls/*|idn2.h)
            # stdio.h is allowed for snprintf only; the symbol check catches any stream call.
            [ "$inc" = stdio.h ] || bad="an adapter's or the system's I/O header" ;;
        esac
        case "$name" in
        server*)
            case "$inc" in client_internal.h|smtp/client.h) bad="the client engine's header" ;; esac ;;
        client*)
            case "$inc" in server_internal.h|smtp/server.h) bad="the server engine's header" ;; esac ;;
        *)
            case "$inc" in
            server_internal.h|client_internal.h|smtp/server.h|smtp/client.h) bad="an engine's header" ;;
            esac ;;
        esac
        if [ -n "$bad" ]; then
            echo "lib/$name includes <$inc>: $bad (docs/DESIGN.md, Layers)"
            status=1
        fi
    done
done
[ "$checked" -gt 20 ] || { echo "only $checked files under $src/lib"; exit 1; }
[ "$status" -eq 0 ] && echo "$checked files of lib/: the include direction holds"
case "$lib" in
*.a) ;;
*) echo "sans_io: the symbol check needs the static library (got $lib); skipped for a shared build"; exit $status ;;
esac
allowed='memchr memrchr memcpy memmove memset memcmp strlen strnlen strchr strrchr strncmp strcmp
strcat strncat strcpy strncpy strspn strcspn strstr bcmp snprintf vsnprintf
malloc calloc realloc free __stack_chk_fail __assert_fail abort'
objects=0
for obj in $(ar t "$lib"); do
    objects=$((objects + 1))
    syms=$(nm -u "$lib" 2>/dev/null | awk -v o="$obj" '
        /:$/ { cur = $0; sub(/:$/, "", cur); next }
        cur == o && $1 == "U" { print $2 }')
    for s in $syms; do
        case "$s" in
        smtp_*|__asan_*|__ubsan_*|__sanitizer_*|__sancov_*|__msan_*|_GLOBAL_OFFSET_TABLE_) continue ;;
        esac
        if ! printf '%s\n' $allowed | grep -qx "$s"; then
            echo "$obj calls $s, which the sans-I/O core must not use"
            status=1
        fi
        case "$s" in
        malloc|calloc|realloc|free)
            [ "$obj" = mem.c.o ] || { echo "$obj calls $s directly instead of through smtp_mem"; status=1; } ;;
        esac
    done
done
[ "$objects" -gt 0 ] || { echo "no objects in $lib"; exit 1; }
[ "$status" -eq 0 ] && echo "$objects objects: only pure libc calls; only mem.c allocates directly"
exit $status
