#include "vec.h"
const vec_runner vec_runner_codec = {"codec", NULL, NULL, NULL, NULL};
