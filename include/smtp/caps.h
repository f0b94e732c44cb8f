/* Placeholder: this header is being written in this session. */
#ifndef SMTP_CAPS_H
#define SMTP_CAPS_H
#include <smtp/common.h>
#endif
