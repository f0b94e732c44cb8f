/* Placeholder: this header is being written in this session. */
#ifndef SMTP_CLIENT_H
#define SMTP_CLIENT_H
#include <smtp/common.h>
#endif
