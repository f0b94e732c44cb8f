#include "vec.h"
const vec_runner vec_runner_client = {"client", NULL, NULL, NULL, NULL};
