// machine for the rp2040 target: Pin on the SIO GPIOs and SPI on the two
// PL022 controllers, with the constructors and methods the rp2 and esp32 ports
// have (FACTS C.1), plus unique_id(), freq() and idle().
#include <string.h>

#include "py/mperrno.h"
#include "py/mphal.h"
#include "py/runtime.h"
#include "rp2040.h"
#include "stackport.h"

#define NUM_GPIO 30

// -- Pin -------------------------------------------------------------------------------

enum { PIN_IN = 0, PIN_OUT = 1, PIN_OPEN_DRAIN = 2 };
enum { PULL_UP = 1, PULL_DOWN = 2 };

typedef struct {
    mp_obj_base_t base;
    uint8_t id;
} machine_pin_obj_t;

extern const mp_obj_type_t machine_pin_type;

#define PIN(n) { { &machine_pin_type }, n }
static const machine_pin_obj_t pins[NUM_GPIO] = {
    PIN(0), PIN(1), PIN(2), PIN(3), PIN(4), PIN(5), PIN(6), PIN(7), PIN(8), PIN(9),
    PIN(10), PIN(11), PIN(12), PIN(13), PIN(14), PIN(15), PIN(16), PIN(17), PIN(18), PIN(19),
    PIN(20), PIN(21), PIN(22), PIN(23), PIN(24), PIN(25), PIN(26), PIN(27), PIN(28), PIN(29),
};

static uint32_t pin_id(mp_obj_t obj) {
    if (mp_obj_is_type(obj, &machine_pin_type)) {
        return ((machine_pin_obj_t *)MP_OBJ_TO_PTR(obj))->id;
    }
    mp_int_t n = mp_obj_get_int(obj);
    if (n < 0 || n >= NUM_GPIO) {
        mp_raise_ValueError(MP_ERROR_TEXT("invalid pin"));
    }
    return n;
}

static void pin_write(uint32_t id, bool v) {
    if (v) {
        SIO_GPIO_OUT_SET = 1u << id;
    } else {
        SIO_GPIO_OUT_CLR = 1u << id;
    }
}

enum { ARG_mode, ARG_pull, ARG_value };
static const mp_arg_t pin_init_args[] = {
    { MP_QSTR_mode, MP_ARG_OBJ, {.u_rom_obj = MP_ROM_NONE} },
    { MP_QSTR_pull, MP_ARG_OBJ, {.u_rom_obj = MP_ROM_NONE} },
    { MP_QSTR_value, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_rom_obj = MP_ROM_NONE} },
};

static void pin_init_helper(uint32_t id, size_t n_args, const mp_obj_t *pos, mp_map_t *kw) {
    mp_arg_val_t a[MP_ARRAY_SIZE(pin_init_args)];
    mp_arg_parse_all(n_args, pos, kw, MP_ARRAY_SIZE(pin_init_args), pin_init_args, a);
    REG(GPIO_CTRL(id)) = FUNC_SIO;
    if (a[ARG_value].u_obj != mp_const_none) {
        pin_write(id, mp_obj_is_true(a[ARG_value].u_obj));
    }
    if (a[ARG_pull].u_obj != mp_const_none && a[ARG_pull].u_obj != MP_OBJ_NEW_SMALL_INT(-1)) {
        mp_int_t pull = mp_obj_get_int(a[ARG_pull].u_obj);
        uint32_t pad = REG(PAD_GPIO(id)) & ~(PAD_PUE | PAD_PDE);
        if (pull & PULL_UP) {
            pad |= PAD_PUE;
        }
        if (pull & PULL_DOWN) {
            pad |= PAD_PDE;
        }
        REG(PAD_GPIO(id)) = pad;
    }
    if (a[ARG_mode].u_obj != mp_const_none && a[ARG_mode].u_obj != MP_OBJ_NEW_SMALL_INT(-1)) {
        mp_int_t mode = mp_obj_get_int(a[ARG_mode].u_obj);
        REG(PAD_GPIO(id)) = (REG(PAD_GPIO(id)) & ~PAD_OD) | PAD_IE;
        if (mode == PIN_IN) {
            SIO_GPIO_OE_CLR = 1u << id;
        } else if (mode == PIN_OUT) {
            SIO_GPIO_OE_SET = 1u << id;
        } else if (mode == PIN_OPEN_DRAIN) {
            // open drain as rp2 does it: drive low, float (input) for high
            bool high = (SIO_GPIO_OUT >> id) & 1;
            SIO_GPIO_OUT_CLR = 1u << id;
            if (high) {
                SIO_GPIO_OE_CLR = 1u << id;
            } else {
                SIO_GPIO_OE_SET = 1u << id;
            }
        } else {
            mp_raise_ValueError(MP_ERROR_TEXT("invalid pin mode"));
        }
    }
}

static mp_obj_t pin_make_new(const mp_obj_type_t *type, size_t n_args, size_t n_kw,
    const mp_obj_t *args) {
    mp_arg_check_num(n_args, n_kw, 1, MP_OBJ_FUN_ARGS_MAX, true);
    uint32_t id = pin_id(args[0]);
    if (n_args > 1 || n_kw > 0) {
        mp_map_t kw;
        mp_map_init_fixed_table(&kw, n_kw, args + n_args);
        pin_init_helper(id, n_args - 1, args + 1, &kw);
    }
    return MP_OBJ_FROM_PTR(&pins[id]);
}

static mp_obj_t pin_value(size_t n_args, const mp_obj_t *args) {
    machine_pin_obj_t *self = MP_OBJ_TO_PTR(args[0]);
    uint32_t bit = 1u << self->id;
    if (n_args == 1) {
        return MP_OBJ_NEW_SMALL_INT((SIO_GPIO_IN & bit) ? 1 : 0);
    }
    pin_write(self->id, mp_obj_is_true(args[1]));
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(pin_value_obj, 1, 2, pin_value);

static mp_obj_t pin_call(mp_obj_t self_in, size_t n_args, size_t n_kw, const mp_obj_t *args) {
    mp_arg_check_num(n_args, n_kw, 0, 1, false);
    mp_obj_t a[2] = { self_in, n_args ? args[0] : MP_OBJ_NULL };
    return pin_value(n_args + 1, a);
}

static mp_obj_t pin_on(mp_obj_t self_in) {
    pin_write(((machine_pin_obj_t *)MP_OBJ_TO_PTR(self_in))->id, true);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_1(pin_on_obj, pin_on);

static mp_obj_t pin_off(mp_obj_t self_in) {
    pin_write(((machine_pin_obj_t *)MP_OBJ_TO_PTR(self_in))->id, false);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_1(pin_off_obj, pin_off);

static mp_obj_t pin_init(size_t n_args, const mp_obj_t *args, mp_map_t *kw) {
    machine_pin_obj_t *self = MP_OBJ_TO_PTR(args[0]);
    pin_init_helper(self->id, n_args - 1, args + 1, kw);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_KW(pin_init_obj, 1, pin_init);

static void pin_print(const mp_print_t *print, mp_obj_t self_in, mp_print_kind_t kind) {
    machine_pin_obj_t *self = MP_OBJ_TO_PTR(self_in);
    mp_printf(print, "Pin(GPIO%u)", self->id);
}

static const mp_rom_map_elem_t pin_locals_table[] = {
    { MP_ROM_QSTR(MP_QSTR_init), MP_ROM_PTR(&pin_init_obj) },
    { MP_ROM_QSTR(MP_QSTR_value), MP_ROM_PTR(&pin_value_obj) },
    { MP_ROM_QSTR(MP_QSTR_on), MP_ROM_PTR(&pin_on_obj) },
    { MP_ROM_QSTR(MP_QSTR_off), MP_ROM_PTR(&pin_off_obj) },
    { MP_ROM_QSTR(MP_QSTR_high), MP_ROM_PTR(&pin_on_obj) },
    { MP_ROM_QSTR(MP_QSTR_low), MP_ROM_PTR(&pin_off_obj) },
    { MP_ROM_QSTR(MP_QSTR_IN), MP_ROM_INT(PIN_IN) },
    { MP_ROM_QSTR(MP_QSTR_OUT), MP_ROM_INT(PIN_OUT) },
    { MP_ROM_QSTR(MP_QSTR_OPEN_DRAIN), MP_ROM_INT(PIN_OPEN_DRAIN) },
    { MP_ROM_QSTR(MP_QSTR_PULL_UP), MP_ROM_INT(PULL_UP) },
    { MP_ROM_QSTR(MP_QSTR_PULL_DOWN), MP_ROM_INT(PULL_DOWN) },
};
static MP_DEFINE_CONST_DICT(pin_locals, pin_locals_table);

MP_DEFINE_CONST_OBJ_TYPE(
    machine_pin_type, MP_QSTR_Pin, MP_TYPE_FLAG_NONE,
    make_new, pin_make_new,
    print, pin_print,
    call, pin_call,
    locals_dict, &pin_locals);

// -- SPI (PL022, master, polled) ----------------------------------------------------------

typedef struct {
    mp_obj_base_t base;
    uint32_t base_addr;
    uint8_t id;
    uint8_t polarity;
    uint8_t phase;
    uint8_t bits;
    uint32_t baudrate;  // what the divider gives, at most the requested rate
} machine_spi_obj_t;

extern const mp_obj_type_t machine_spi_type;

static machine_spi_obj_t spi_objs[2] = {
    { { &machine_spi_type }, SPI0_BASE, 0, 0, 0, 8, 0 },
    { { &machine_spi_type }, SPI1_BASE, 1, 0, 0, 8, 0 },
};

enum { MSB = 0, LSB = 1 };

// rp2's pin rules (FACTS C.1): SCK = 2, MOSI = 3, MISO = 0 (mod 4); bit 3 = bus
static void spi_pin(machine_spi_obj_t *self, mp_obj_t obj, uint32_t residue, const char *what) {
    if (obj == mp_const_none) {
        return;
    }
    uint32_t id = pin_id(obj);
    if (id % 4 != residue || ((id >> 3) & 1) != self->id) {
        mp_raise_msg_varg(&mp_type_ValueError, MP_ERROR_TEXT("bad %s pin for SPI(%d)"), what,
            self->id);
    }
    REG(GPIO_CTRL(id)) = FUNC_SPI;
}

static void spi_set_baudrate(machine_spi_obj_t *self, uint32_t want) {
    // clk_peri / (CPSDVSR * (1 + SCR)), CPSDVSR even 2..254: the fastest <= want
    uint32_t best_cps = 254, best_scr = 255, best = 0;
    for (uint32_t cps = 2; cps <= 254; cps += 2) {
        uint32_t scr = (CLK_PERI_HZ + cps * want - 1) / (cps * want);  // 1 + SCR
        if (scr < 1) {
            scr = 1;
        }
        if (scr > 256) {
            continue;
        }
        uint32_t rate = CLK_PERI_HZ / (cps * scr);
        if (rate <= want && rate > best) {
            best = rate;
            best_cps = cps;
            best_scr = scr - 1;
        }
    }
    if (best == 0) {
        best = CLK_PERI_HZ / (254 * 256);
    }
    REG(self->base_addr + SSP_CPSR) = best_cps;
    uint32_t cr0 = (best_scr << 8) | (self->phase << 7) | (self->polarity << 6) | (self->bits - 1);
    REG(self->base_addr + SSP_CR0) = cr0;
    self->baudrate = best;
}

enum { A_baudrate, A_polarity, A_phase, A_bits, A_firstbit, A_sck, A_mosi, A_miso };
static const mp_arg_t spi_args[] = {
    { MP_QSTR_baudrate, MP_ARG_INT, {.u_int = -1} },
    { MP_QSTR_polarity, MP_ARG_KW_ONLY | MP_ARG_INT, {.u_int = -1} },
    { MP_QSTR_phase, MP_ARG_KW_ONLY | MP_ARG_INT, {.u_int = -1} },
    { MP_QSTR_bits, MP_ARG_KW_ONLY | MP_ARG_INT, {.u_int = -1} },
    { MP_QSTR_firstbit, MP_ARG_KW_ONLY | MP_ARG_INT, {.u_int = MSB} },
    { MP_QSTR_sck, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_rom_obj = MP_ROM_NONE} },
    { MP_QSTR_mosi, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_rom_obj = MP_ROM_NONE} },
    { MP_QSTR_miso, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_rom_obj = MP_ROM_NONE} },
};

static void spi_init_helper(machine_spi_obj_t *self, size_t n_args, const mp_obj_t *pos,
    mp_map_t *kw, bool first) {
    mp_arg_val_t a[MP_ARRAY_SIZE(spi_args)];
    mp_arg_parse_all(n_args, pos, kw, MP_ARRAY_SIZE(spi_args), spi_args, a);
    if (a[A_firstbit].u_int != MSB) {
        mp_raise_ValueError(MP_ERROR_TEXT("firstbit must be MSB"));
    }
    if (first) {
        uint32_t r = self->id ? RESET_SPI1 : RESET_SPI0;
        REG_CLR(RESETS_RESET) = r;
        self->polarity = 0;
        self->phase = 0;
        self->bits = 8;
        self->baudrate = 1000000;
    }
    if (a[A_polarity].u_int >= 0) {
        self->polarity = a[A_polarity].u_int & 1;
    }
    if (a[A_phase].u_int >= 0) {
        self->phase = a[A_phase].u_int & 1;
    }
    if (a[A_bits].u_int >= 0) {
        if (a[A_bits].u_int != 8) {
            mp_raise_ValueError(MP_ERROR_TEXT("bits must be 8"));
        }
        self->bits = 8;
    }
    uint32_t want = a[A_baudrate].u_int > 0 ? (uint32_t)a[A_baudrate].u_int : self->baudrate;
    if (want == 0) {
        want = 1000000;
    }
    spi_pin(self, a[A_sck].u_obj, 2, "sck");
    spi_pin(self, a[A_mosi].u_obj, 3, "mosi");
    spi_pin(self, a[A_miso].u_obj, 0, "miso");
    REG(self->base_addr + SSP_CR1) = 0;
    spi_set_baudrate(self, want);
    REG(self->base_addr + SSP_CR1) = SSP_CR1_SSE;
}

static mp_obj_t spi_make_new(const mp_obj_type_t *type, size_t n_args, size_t n_kw,
    const mp_obj_t *args) {
    mp_arg_check_num(n_args, n_kw, 1, MP_OBJ_FUN_ARGS_MAX, true);
    mp_int_t id = mp_obj_get_int(args[0]);
    if (id < 0 || id > 1) {
        mp_raise_msg_varg(&mp_type_ValueError, MP_ERROR_TEXT("SPI(%d) doesn't exist"), id);
    }
    machine_spi_obj_t *self = &spi_objs[id];
    mp_map_t kw;
    mp_map_init_fixed_table(&kw, n_kw, args + n_args);
    spi_init_helper(self, n_args - 1, args + 1, &kw, true);
    return MP_OBJ_FROM_PTR(self);
}

static mp_obj_t spi_init(size_t n_args, const mp_obj_t *args, mp_map_t *kw) {
    spi_init_helper(MP_OBJ_TO_PTR(args[0]), n_args - 1, args + 1, kw, false);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_KW(spi_init_obj, 1, spi_init);

static mp_obj_t spi_deinit(mp_obj_t self_in) {
    machine_spi_obj_t *self = MP_OBJ_TO_PTR(self_in);
    REG(self->base_addr + SSP_CR1) = 0;
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_1(spi_deinit_obj, spi_deinit);

// Full duplex: n bytes out of src (or `fill` when src is NULL), in to dst (or
// dropped when dst is NULL). Keeps up to 8 bytes in flight in the FIFOs.
static void spi_transfer(machine_spi_obj_t *self, const uint8_t *src, uint8_t *dst, size_t n,
    uint8_t fill) {
    uint32_t b = self->base_addr;
    volatile uint32_t *sr = &REG(b + SSP_SR);
    volatile uint32_t *dr = &REG(b + SSP_DR);
    size_t tx = 0, rx = 0;
    while (rx < n) {
        while (tx < n && tx - rx < 8 && (*sr & SSP_SR_TNF)) {
            *dr = src ? src[tx] : fill;
            tx++;
        }
        while (rx < tx && (*sr & SSP_SR_RNE)) {
            uint8_t v = *dr;
            if (dst) {
                dst[rx] = v;
            }
            rx++;
        }
    }
}

static mp_obj_t spi_write(mp_obj_t self_in, mp_obj_t buf_in) {
    mp_buffer_info_t src;
    mp_get_buffer_raise(buf_in, &src, MP_BUFFER_READ);
    spi_transfer(MP_OBJ_TO_PTR(self_in), src.buf, NULL, src.len, 0);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_2(spi_write_obj, spi_write);

static mp_obj_t spi_read(size_t n_args, const mp_obj_t *args) {
    vstr_t vstr;
    vstr_init_len(&vstr, mp_obj_get_int(args[1]));
    uint8_t fill = n_args > 2 ? mp_obj_get_int(args[2]) : 0;
    spi_transfer(MP_OBJ_TO_PTR(args[0]), NULL, (uint8_t *)vstr.buf, vstr.len, fill);
    return mp_obj_new_bytes_from_vstr(&vstr);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(spi_read_obj, 2, 3, spi_read);

static mp_obj_t spi_readinto(size_t n_args, const mp_obj_t *args) {
    mp_buffer_info_t dst;
    mp_get_buffer_raise(args[1], &dst, MP_BUFFER_WRITE);
    uint8_t fill = n_args > 2 ? mp_obj_get_int(args[2]) : 0;
    spi_transfer(MP_OBJ_TO_PTR(args[0]), NULL, dst.buf, dst.len, fill);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(spi_readinto_obj, 2, 3, spi_readinto);

static mp_obj_t spi_write_readinto(mp_obj_t self_in, mp_obj_t wbuf_in, mp_obj_t rbuf_in) {
    mp_buffer_info_t src, dst;
    mp_get_buffer_raise(wbuf_in, &src, MP_BUFFER_READ);
    mp_get_buffer_raise(rbuf_in, &dst, MP_BUFFER_WRITE);
    if (src.len != dst.len) {
        mp_raise_ValueError(MP_ERROR_TEXT("buffers must be the same length"));
    }
    spi_transfer(MP_OBJ_TO_PTR(self_in), src.buf, dst.buf, src.len, 0);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_3(spi_write_readinto_obj, spi_write_readinto);

static void spi_print(const mp_print_t *print, mp_obj_t self_in, mp_print_kind_t kind) {
    machine_spi_obj_t *self = MP_OBJ_TO_PTR(self_in);
    mp_printf(print, "SPI(%u, baudrate=%u, polarity=%u, phase=%u, bits=%u)", self->id,
        (unsigned)self->baudrate, self->polarity, self->phase, self->bits);
}

static void spi_attr(mp_obj_t self_in, qstr attr, mp_obj_t *dest) {
    machine_spi_obj_t *self = MP_OBJ_TO_PTR(self_in);
    if (dest[0] == MP_OBJ_NULL && attr == MP_QSTR_baudrate) {
        dest[0] = mp_obj_new_int_from_uint(self->baudrate);
        return;
    }
    dest[1] = MP_OBJ_SENTINEL;  // continue lookup in locals_dict
}

static const mp_rom_map_elem_t spi_locals_table[] = {
    { MP_ROM_QSTR(MP_QSTR_init), MP_ROM_PTR(&spi_init_obj) },
    { MP_ROM_QSTR(MP_QSTR_deinit), MP_ROM_PTR(&spi_deinit_obj) },
    { MP_ROM_QSTR(MP_QSTR_read), MP_ROM_PTR(&spi_read_obj) },
    { MP_ROM_QSTR(MP_QSTR_readinto), MP_ROM_PTR(&spi_readinto_obj) },
    { MP_ROM_QSTR(MP_QSTR_write), MP_ROM_PTR(&spi_write_obj) },
    { MP_ROM_QSTR(MP_QSTR_write_readinto), MP_ROM_PTR(&spi_write_readinto_obj) },
    { MP_ROM_QSTR(MP_QSTR_MSB), MP_ROM_INT(MSB) },
    { MP_ROM_QSTR(MP_QSTR_LSB), MP_ROM_INT(LSB) },
};
static MP_DEFINE_CONST_DICT(spi_locals, spi_locals_table);

MP_DEFINE_CONST_OBJ_TYPE(
    machine_spi_type, MP_QSTR_SPI, MP_TYPE_FLAG_NONE,
    make_new, spi_make_new,
    print, spi_print,
    attr, spi_attr,
    locals_dict, &spi_locals);

// -- module ---------------------------------------------------------------------------------

static mp_obj_t machine_unique_id(void) {
    uint8_t id[8];
    stackport_unique_id(id);
    return mp_obj_new_bytes(id, 8);
}
static MP_DEFINE_CONST_FUN_OBJ_0(machine_unique_id_obj, machine_unique_id);

static mp_obj_t machine_freq(void) {
    return mp_obj_new_int_from_uint(CLK_SYS_HZ);
}
static MP_DEFINE_CONST_FUN_OBJ_0(machine_freq_obj, machine_freq);

static mp_obj_t machine_idle(void) {
    __asm volatile ("wfe");
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_0(machine_idle_obj, machine_idle);

static const mp_rom_map_elem_t machine_module_globals_table[] = {
    { MP_ROM_QSTR(MP_QSTR___name__), MP_ROM_QSTR(MP_QSTR_machine) },
    { MP_ROM_QSTR(MP_QSTR_Pin), MP_ROM_PTR(&machine_pin_type) },
    { MP_ROM_QSTR(MP_QSTR_SPI), MP_ROM_PTR(&machine_spi_type) },
    { MP_ROM_QSTR(MP_QSTR_unique_id), MP_ROM_PTR(&machine_unique_id_obj) },
    { MP_ROM_QSTR(MP_QSTR_freq), MP_ROM_PTR(&machine_freq_obj) },
    { MP_ROM_QSTR(MP_QSTR_idle), MP_ROM_PTR(&machine_idle_obj) },
};
static MP_DEFINE_CONST_DICT(machine_module_globals, machine_module_globals_table);

const mp_obj_module_t stackport_machine_module = {
    .base = { &mp_type_module },
    .globals = (mp_obj_dict_t *)&machine_module_globals,
};
MP_REGISTER_MODULE(MP_QSTR_machine, stackport_machine_module);
