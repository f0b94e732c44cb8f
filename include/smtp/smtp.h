/* SPDX-License-Identifier: MIT */
/** @file
 * libsmtp — the umbrella header. Include this one header to get the whole public API.
 *
 * The core is sans-I/O: it never reads a socket, a clock or a file. Bytes go in, events come
 * out through callbacks, and bytes to send are written into the caller's buffers.
 */
#ifndef SMTP_SMTP_H
#define SMTP_SMTP_H

#include <smtp/common.h>
#include <smtp/version.h>
#include <smtp/reply.h>
#include <smtp/command.h>
#include <smtp/path.h>
#include <smtp/params.h>
#include <smtp/mtasts.h>
#include <smtp/codec.h>
#include <smtp/caps.h>
#include <smtp/data.h>
#include <smtp/server.h>
#include <smtp/client.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * smtp_lib_version returns the version of the library actually linked.
 *
 * Compare it with SMTP_VERSION_STRING, the version of the headers the program was built with.
 *
 * @return "MAJOR.MINOR.PATCH", in static storage; never NULL.
 */
SMTP_API const char *smtp_lib_version(void);

/**
 * smtp_lib_version_number returns the linked library's SMTP_VERSION_NUMBER.
 *
 * @return (MAJOR << 16) | (MINOR << 8) | PATCH of the linked library, to compare with the
 *         headers' SMTP_VERSION_NUMBER.
 */
SMTP_API int smtp_lib_version_number(void);

#ifdef __cplusplus
}
#endif

#endif /* SMTP_SMTP_H */
