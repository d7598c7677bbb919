// os: only what the stack needs from it, urandom() (RFC 6528 ISN secret,
// ephemeral ports), plus uname() for tools that print the board.
#include "py/objstr.h"
#include "py/runtime.h"
#include "genhdr/mpversion.h"
#include "mphalport.h"

static mp_obj_t os_urandom(mp_obj_t n_in) {
    mp_int_t n = mp_obj_get_int(n_in);
    if (n < 0) {
        mp_raise_ValueError(NULL);
    }
    vstr_t vstr;
    vstr_init_len(&vstr, n);
    stackport_urandom((uint8_t *)vstr.buf, n);
    return mp_obj_new_bytes_from_vstr(&vstr);
}
static MP_DEFINE_CONST_FUN_OBJ_1(os_urandom_obj, os_urandom);

static mp_obj_t os_uname(void) {
    mp_obj_t items[5] = {
        MP_OBJ_NEW_QSTR(MP_QSTR_stackport),
        mp_obj_new_str(MICROPY_PY_SYS_PLATFORM, strlen(MICROPY_PY_SYS_PLATFORM)),
        mp_obj_new_str(MICROPY_GIT_TAG, strlen(MICROPY_GIT_TAG)),
        mp_obj_new_str(MICROPY_BUILD_DATE, strlen(MICROPY_BUILD_DATE)),
        mp_obj_new_str(MICROPY_HW_BOARD_NAME, strlen(MICROPY_HW_BOARD_NAME)),
    };
    return mp_obj_new_tuple(5, items);
}
static MP_DEFINE_CONST_FUN_OBJ_0(os_uname_obj, os_uname);

static const mp_rom_map_elem_t os_module_globals_table[] = {
    { MP_ROM_QSTR(MP_QSTR___name__), MP_ROM_QSTR(MP_QSTR_os) },
    { MP_ROM_QSTR(MP_QSTR_urandom), MP_ROM_PTR(&os_urandom_obj) },
    { MP_ROM_QSTR(MP_QSTR_uname), MP_ROM_PTR(&os_uname_obj) },
};
static MP_DEFINE_CONST_DICT(os_module_globals, os_module_globals_table);

const mp_obj_module_t stackport_os_module = {
    .base = { &mp_type_module },
    .globals = (mp_obj_dict_t *)&os_module_globals,
};
MP_REGISTER_MODULE(MP_QSTR_os, stackport_os_module);
