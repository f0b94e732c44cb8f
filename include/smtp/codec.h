/* Placeholder: this header is being written in this session. */
#ifndef SMTP_CODEC_H
#define SMTP_CODEC_H
#include <smtp/common.h>
#endif
