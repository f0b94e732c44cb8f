/* Placeholder: this header is being written in this session. */
#ifndef SMTP_DATA_H
#define SMTP_DATA_H
#include <smtp/common.h>
#endif
