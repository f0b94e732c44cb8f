#include "vec.h"
const vec_runner vec_runner_caps = {"caps", NULL, NULL, NULL, NULL};
