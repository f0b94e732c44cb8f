#include "vec.h"
const vec_runner vec_runner_path = {"path", NULL, NULL, NULL, NULL};
