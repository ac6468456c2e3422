#include "dual.h"
