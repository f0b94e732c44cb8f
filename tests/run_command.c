#include "vec.h"
const vec_runner vec_runner_command = {"command", NULL, NULL, NULL, NULL};
