#include "vec.h"
const vec_runner vec_runner_data_decode = {"data_decode", NULL, NULL, NULL, NULL};
const vec_runner vec_runner_data_encode = {"data_encode", NULL, NULL, NULL, NULL};
