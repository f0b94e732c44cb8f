#include "vec.h"
const vec_runner vec_runner_reply = {"reply", NULL, NULL, NULL, NULL};
