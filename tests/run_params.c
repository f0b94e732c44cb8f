#include "vec.h"
const vec_runner vec_runner_params = {"params", NULL, NULL, NULL, NULL};
