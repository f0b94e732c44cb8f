/* Placeholder: this header is being written in this session. */
#ifndef SMTP_PARAMS_H
#define SMTP_PARAMS_H
#include <smtp/common.h>
#endif
