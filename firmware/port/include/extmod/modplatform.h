// The source archive has no extmod/; py/modsys.c and shared/runtime/pyexec.c
// include this header only for platform names, which this port sets itself
// (MICROPY_HW_BOARD_NAME / MICROPY_HW_MCU_NAME in mpconfigport.h).
#ifndef STACKPORT_MODPLATFORM_H
#define STACKPORT_MODPLATFORM_H
#endif
