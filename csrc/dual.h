/* Dual-number kernels (placeholder until the Dual engine lands). */
#ifndef DFD_DUAL_H
#define DFD_DUAL_H
#include <stddef.h>
#endif
