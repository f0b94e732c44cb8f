/* Placeholder: being written in this session. */
#include "internal.h"
