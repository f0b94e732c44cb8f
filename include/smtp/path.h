/* Placeholder: this header is being written in this session. */
#ifndef SMTP_PATH_H
#define SMTP_PATH_H
#include <smtp/common.h>
#endif
