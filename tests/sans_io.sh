#!/bin/sh
# SPDX-License-Identifier: MIT
# The core is sans-I/O (DESIGN.md): its objects may call only pure libc functions (memory, string
# and in-memory formatting: snprintf writes to a buffer, never a stream). This test
# lists every undefined symbol of each object in libsmtp.a (nm -u) and fails on any symbol
# outside the allow-list below: no socket, file, poll, clock, sleep or thread call can slip in.
# It also checks that only mem.c calls the C allocator (everything else goes through smtp_mem).
# Usage: sans_io.sh LIBSMTP.a
set -eu
lib=$1
case "$lib" in
*.a) ;;
*) echo "sans_io: needs the static library (got $lib); skipped for a shared build"; exit 0 ;;
esac
allowed='memchr memrchr memcpy memmove memset memcmp strlen strnlen strchr strrchr strncmp strcmp
strcat strncat strcpy strncpy strspn strcspn strstr bcmp snprintf vsnprintf
malloc calloc realloc free __stack_chk_fail __assert_fail abort'
status=0
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
