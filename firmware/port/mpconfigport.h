// Configuration of the project's own MicroPython port (firmware/port/).
// Two targets share it: STACKPORT_RP2040 (bare-metal Cortex-M0+ for rp2040js)
// and STACKPORT_HOST32 (a 32-bit Linux program for heap figures).
#include <stdint.h>

#define MICROPY_CONFIG_ROM_LEVEL            (MICROPY_CONFIG_ROM_LEVEL_EXTRA_FEATURES)

// Modules that live in extmod/ (absent from the source archive) are off;
// the port provides time, os, machine and json itself (mod*.c).
#define MICROPY_PY_TIME                     (0)
#define MICROPY_PY_OS                       (0)
#define MICROPY_PY_MACHINE                  (0)
#define MICROPY_PY_SELECT                   (0)
#define MICROPY_PY_UCTYPES                  (0)
#define MICROPY_PY_RE                       (0)
#define MICROPY_PY_BINASCII                 (0)
#define MICROPY_PY_HEAPQ                    (0)
#define MICROPY_PY_RANDOM                   (0)
#define MICROPY_PY_HASHLIB                  (0)
#define MICROPY_PY_CRYPTOLIB                (0)
#define MICROPY_PY_DEFLATE                  (0)
#define MICROPY_PY_FRAMEBUF                 (0)
#define MICROPY_PY_PLATFORM                 (0)
#define MICROPY_PY_ASYNCIO                  (0)
#define MICROPY_PY_VFS                      (0)
#define MICROPY_VFS                         (0)
#define MICROPY_PY_THREAD                   (0)
#define MICROPY_PY_SYS_STDFILES             (1)
#define MICROPY_PY_SYS_STDIO_BUFFER         (1)
// json.dumps comes from modjson.c, printing with py/'s PRINT_JSON support
#define MICROPY_PY_JSON                     (1)
#define MICROPY_PY_JSON_SEPARATORS          (0)
#define MICROPY_PY_ERRNO                    (1)
#define MICROPY_PY_IO_IOBASE                (1)
#define MICROPY_PY_MICROPYTHON_HEAP_LOCKED  (1)
#define MICROPY_PY_BUILTINS_HELP            (0)
#define MICROPY_PY_SYS_PLATFORM_NAME        (1)
#define MICROPY_HELPER_REPL                 (1)
#define MICROPY_REPL_AUTO_INDENT            (1)
#define MICROPY_KBD_EXCEPTION               (1)
#define MICROPY_ENABLE_SCHEDULER            (1)
#define MICROPY_ENABLE_GC                   (1)
#define MICROPY_ENABLE_FINALISER            (1)
#define MICROPY_LONGINT_IMPL                (MICROPY_LONGINT_IMPL_MPZ)
#define MICROPY_FLOAT_IMPL                  (MICROPY_FLOAT_IMPL_FLOAT)
#define MICROPY_ENABLE_EXTERNAL_IMPORT      (1)
#define MICROPY_PERSISTENT_CODE_LOAD        (1)
#define MICROPY_MODULE_FROZEN_MPY           (0)
#define MICROPY_ALLOC_PATH_MAX              (128)
#define MICROPY_STACK_CHECK                 (1)
#define MICROPY_ERROR_REPORTING             (MICROPY_ERROR_REPORTING_NORMAL)
#define MICROPY_USE_INTERNAL_PRINTF         (0)

#if defined(STACKPORT_RP2040)
// The native emitter and the loader of armv6m .mpy (viper) for Cortex-M0+.
#define MICROPY_EMIT_THUMB                  (1)
#define MICROPY_EMIT_THUMB_ARMV7M           (0)
#define MICROPY_EMIT_INLINE_THUMB           (1)
#define MICROPY_HW_BOARD_NAME               "emulated RP2040 (stack port)"
#define MICROPY_HW_MCU_NAME                 "RP2040"
#define MICROPY_PY_SYS_PLATFORM             "rp2"
#define MICROPY_READER_POSIX                (0)
#define MICROPY_HAS_FILE_READER             (1)  // files.c: the file table
#elif defined(STACKPORT_HOST32)
#define MICROPY_EMIT_X86                    (1)
#define MICROPY_HW_BOARD_NAME               "32-bit Linux (stack port host32)"
#define MICROPY_HW_MCU_NAME                 "x86"
#define MICROPY_PY_SYS_PLATFORM             "linux"
#define MICROPY_READER_POSIX                (1)
#define MICROPY_PY_SYS_EXIT                 (1)
#else
#error "build with -DSTACKPORT_RP2040 or -DSTACKPORT_HOST32"
#endif

#define MICROPY_PY_TIME_TICKS_PERIOD        (1 << 30)

typedef long mp_off_t;

#define MP_SSIZE_MAX                        (0x7fffffff)
#define MICROPY_HW_ENABLE_UART_REPL         (1)

#include <alloca.h>

#define MP_STATE_PORT MP_STATE_VM
