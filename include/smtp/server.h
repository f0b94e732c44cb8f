/* Placeholder: this header is being written in this session. */
#ifndef SMTP_SERVER_H
#define SMTP_SERVER_H
#include <smtp/common.h>
#endif
