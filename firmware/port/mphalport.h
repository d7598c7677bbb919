// HAL of the stack port: what py/ and shared/ call, for both targets.
#ifndef STACKPORT_MPHALPORT_H
#define STACKPORT_MPHALPORT_H
#include <stdint.h>
#include "shared/runtime/interrupt_char.h"

mp_uint_t mp_hal_ticks_ms(void);
mp_uint_t mp_hal_ticks_us(void);
mp_uint_t mp_hal_ticks_cpu(void);
uint64_t stackport_time_us(void);
void mp_hal_delay_ms(mp_uint_t ms);
void mp_hal_delay_us(mp_uint_t us);
// wait for an event (interrupt) at most until the microsecond count `until`
void stackport_wait_until(uint64_t until);
void stackport_urandom(uint8_t *buf, size_t n);
void stackport_unique_id(uint8_t id[8]);

// pins are the port's own machine.Pin objects; py/ only needs the type
#define mp_hal_pin_obj_t uint32_t

static inline void mp_hal_set_interrupt_char_port(int c) {
    (void)c;
}
#endif
