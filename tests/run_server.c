#include "vec.h"
const vec_runner vec_runner_server = {"server", NULL, NULL, NULL, NULL};
