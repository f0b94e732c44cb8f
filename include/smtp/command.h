/* Placeholder: this header is being written in this session. */
#ifndef SMTP_COMMAND_H
#define SMTP_COMMAND_H
#include <smtp/common.h>
#endif
