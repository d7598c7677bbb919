// The stack port's VM life cycle, shared by both targets: heap and stack
// set-up, soft reset, the REPL loop (friendly and raw, from shared/runtime),
// garbage collection roots and the fatal-error paths. The targets' entry
// points are in hal_rp2040.c and hal_host32.c.
#include <stdio.h>
#include <string.h>

#include "py/builtin.h"
#include "py/compile.h"
#include "py/cstack.h"
#include "py/gc.h"
#include "py/mperrno.h"
#include "py/runtime.h"
#include "shared/readline/readline.h"
#include "shared/runtime/gchelper.h"
#include "shared/runtime/pyexec.h"
#include "stackport.h"

static char *heap_start;
static size_t heap_bytes;

void stackport_vm_init(void *stack_top, size_t stack_bytes, void *heap, size_t heap_size,
    const char *path) {
    mp_cstack_init_with_top(stack_top, stack_bytes);
    heap_start = heap;
    heap_bytes = heap_size;
    gc_init(heap_start, heap_start + heap_bytes);
    mp_init();
    // sys.path: "" first, then each entry of the colon-separated `path`
    mp_obj_t sys_path = mp_sys_path;
    mp_obj_list_append(sys_path, MP_OBJ_NEW_QSTR(MP_QSTR_));
    while (path != NULL && *path) {
        const char *end = strchr(path, ':');
        size_t n = end ? (size_t)(end - path) : strlen(path);
        if (n) {
            mp_obj_list_append(sys_path, mp_obj_new_str(path, n));
        }
        path = end ? end + 1 : NULL;
    }
    readline_init0();
}

void stackport_vm_deinit(void) {
    gc_sweep_all();
    mp_deinit();
}

// The REPL as a board has it on its UART: friendly by default, raw after
// Ctrl-A (what mpremote and pyboard.py drive), Ctrl-D soft-resets.
void stackport_repl_forever(void *stack_top, size_t stack_bytes, void *heap, size_t heap_size,
    const char *path) {
    for (;;) {
        stackport_vm_init(stack_top, stack_bytes, heap, heap_size, path);
        for (;;) {
            int ret;
            if (pyexec_mode_kind == PYEXEC_MODE_RAW_REPL) {
                ret = pyexec_raw_repl();
            } else {
                ret = pyexec_friendly_repl();
            }
            if (ret & PYEXEC_FORCED_EXIT) {
                break;
            }
        }
        mp_printf(&mp_plat_print, "MPY: soft reboot\r\n");
        stackport_vm_deinit();
    }
}

// Every collection (automatic or gc.collect()) records the live heap after
// it: the largest such figure is the program's peak heap need (stackport
// module, and host32's "HEAPPEAK" line at exit).
static size_t live_peak;
static size_t collections;

void gc_collect(void) {
    gc_collect_start();
    gc_helper_collect_regs_and_stack();
    gc_collect_end();
    gc_info_t info;
    gc_info(&info);
    collections++;
    if (info.used > live_peak) {
        live_peak = info.used;
    }
}

void stackport_heap_report(void) {
    mp_printf(&mp_plat_print, "HEAPPEAK live=%u collections=%u heap=%u\n",
        (unsigned)live_peak, (unsigned)collections, (unsigned)heap_bytes);
}

static mp_obj_t stackport_heap_peak(void) {
    mp_obj_t items[3] = {
        mp_obj_new_int_from_uint(live_peak),
        mp_obj_new_int_from_uint(collections),
        mp_obj_new_int_from_uint(heap_bytes),
    };
    return mp_obj_new_tuple(3, items);
}
static MP_DEFINE_CONST_FUN_OBJ_0(stackport_heap_peak_obj, stackport_heap_peak);

static mp_obj_t stackport_heap_peak_reset(void) {
    live_peak = 0;
    collections = 0;
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_0(stackport_heap_peak_reset_obj, stackport_heap_peak_reset);

static const mp_rom_map_elem_t stackport_module_globals_table[] = {
    { MP_ROM_QSTR(MP_QSTR___name__), MP_ROM_QSTR(MP_QSTR_stackport) },
    // (live bytes after the fullest collection, collections, heap size)
    { MP_ROM_QSTR(MP_QSTR_heap_peak), MP_ROM_PTR(&stackport_heap_peak_obj) },
    { MP_ROM_QSTR(MP_QSTR_heap_peak_reset), MP_ROM_PTR(&stackport_heap_peak_reset_obj) },
};
static MP_DEFINE_CONST_DICT(stackport_module_globals, stackport_module_globals_table);

const mp_obj_module_t stackport_module = {
    .base = { &mp_type_module },
    .globals = (mp_obj_dict_t *)&stackport_module_globals,
};
MP_REGISTER_MODULE(MP_QSTR_stackport, stackport_module);

void nlr_jump_fail(void *val) {
    stackport_fatal("nlr_jump_fail: an exception escaped every handler");
}

#ifndef NDEBUG
void MP_WEAK __assert_func(const char *file, int line, const char *func, const char *expr) {
    mp_printf(&mp_plat_print, "assertion \"%s\" failed: %s:%d\n", expr, file, line);
    stackport_fatal("assertion failed");
}
#endif

