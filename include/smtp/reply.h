/* Placeholder: this header is being written in this session. */
#ifndef SMTP_REPLY_H
#define SMTP_REPLY_H
#include <smtp/common.h>
#endif
