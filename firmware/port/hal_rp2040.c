// rp2040: bare metal for rp2040js (no boot ROM, no boot2: the runner loads
// this image at the start of flash, sets VTOR, SP and PC from its first two
// words). Clocks stay as the emulator starts them (clk_sys = clk_peri =
// 125 MHz). The console is UART0 at 115200 baud; received bytes go through an
// interrupt into a ring, so Ctrl-C interrupts running code. Sleeps arm timer
// alarm 0 and wait in WFI, so an idle board costs the emulator no cycles.
#include <string.h>

#include "py/mphal.h"
#include "py/runtime.h"
#include "py/stream.h"
#include "rp2040.h"
#include "stackport.h"

#define STACK_BYTES (16 * 1024)

extern uint32_t _sidata, _sdata, _edata, _sbss, _ebss, _heap_start, _heap_end, _estack;


// -- console on UART0 --------------------------------------------------------------

#define RX_RING 512
static volatile uint8_t rx_ring[RX_RING];
static volatile uint32_t rx_head, rx_tail;  // head: written by the IRQ, tail: by the reader

static void uart_irq(void) {
    while (!(REG(UART0_BASE + UART_FR) & UART_FR_RXFE)) {
        uint8_t c = REG(UART0_BASE + UART_DR) & 0xff;
        if (c == mp_interrupt_char) {
            mp_sched_keyboard_interrupt();
            continue;
        }
        uint32_t next = (rx_head + 1) % RX_RING;
        if (next != rx_tail) {  // full: the byte is lost (the runner paces its input)
            rx_ring[rx_head] = c;
            rx_head = next;
        }
    }
}

static void timer_irq(void) {
    TIMER_INTR = 1;  // alarm 0 fired: the WFI in a sleep returns
}

static void uart_init(void) {
    REG_CLR(RESETS_RESET) = RESET_UART0 | RESET_IO_BANK0 | RESET_PADS_BANK0 | RESET_TIMER;
    REG(GPIO_CTRL(0)) = FUNC_UART;
    REG(GPIO_CTRL(1)) = FUNC_UART;
    // 115200 baud from clk_peri 125 MHz: divisor 67.817 = 67 + 52/64
    REG(UART0_BASE + UART_IBRD) = 67;
    REG(UART0_BASE + UART_FBRD) = 52;
    REG(UART0_BASE + UART_LCR_H) = (3u << 5) | (1u << 4);  // 8 bits, FIFOs on
    REG(UART0_BASE + UART_CR) = (1u << 9) | (1u << 8) | 1u;  // RXE, TXE, UARTEN
    REG(UART0_BASE + UART_IMSC) = (1u << 4) | (1u << 6);  // RX and RX timeout
    NVIC_ICPR = (1u << IRQ_UART0) | (1u << IRQ_TIMER0);
    NVIC_ISER = (1u << IRQ_UART0) | (1u << IRQ_TIMER0);
    TIMER_INTE = 1;
}

// Waiting uses WFE with interrupts enabled: an interrupt taken between the
// check and the WFE leaves the event flag set (exception entry and return
// set it), so the WFE returns at once instead of sleeping past it.
int mp_hal_stdin_rx_chr(void) {
    for (;;) {
        if (rx_tail != rx_head) {
            uint8_t c = rx_ring[rx_tail];
            rx_tail = (rx_tail + 1) % RX_RING;
            return c;
        }
        __asm volatile ("wfe");
        mp_handle_pending(true);
    }
}

mp_uint_t mp_hal_stdout_tx_strn(const char *str, size_t len) {
    for (size_t i = 0; i < len; i++) {
        while (REG(UART0_BASE + UART_FR) & UART_FR_TXFF) {
        }
        REG(UART0_BASE + UART_DR) = (uint8_t)str[i];
    }
    return len;
}

uintptr_t mp_hal_stdio_poll(uintptr_t poll_flags) {
    uintptr_t ret = poll_flags & MP_STREAM_POLL_WR;
    if ((poll_flags & MP_STREAM_POLL_RD) && rx_tail != rx_head) {
        ret |= MP_STREAM_POLL_RD;
    }
    return ret;
}

// -- time from the RP2040 timer (microseconds since reset) -------------------------

uint64_t stackport_time_us(void) {
    uint32_t hi = TIMER_TIMERAWH;
    for (;;) {
        uint32_t lo = TIMER_TIMERAWL;
        uint32_t hi2 = TIMER_TIMERAWH;
        if (hi == hi2) {
            return ((uint64_t)hi << 32) | lo;
        }
        hi = hi2;
    }
}

mp_uint_t mp_hal_ticks_ms(void) {
    return (mp_uint_t)(stackport_time_us() / 1000);
}

mp_uint_t mp_hal_ticks_us(void) {
    return TIMER_TIMERAWL;
}

mp_uint_t mp_hal_ticks_cpu(void) {
    return TIMER_TIMERAWL;
}

void stackport_wait_until(uint64_t until) {
    TIMER_ALARM0 = (uint32_t)until;  // arms alarm 0 (low 32 bits compared)
    if (until > stackport_time_us()) {
        __asm volatile ("wfe");  // the alarm, a console byte or a stale event ends it
    }
}

void mp_hal_delay_us(mp_uint_t us) {
    uint64_t until = stackport_time_us() + us;
    if (us < 20) {
        while (stackport_time_us() < until) {
        }
        return;
    }
    while (stackport_time_us() < until) {
        stackport_wait_until(until);
        mp_handle_pending(true);
    }
}

void mp_hal_delay_ms(mp_uint_t ms) {
    mp_hal_delay_us(ms * 1000);
}

// os.urandom: xorshift32 seeded from the board id and stirred with the timer
// at every byte (rp2040js does not model the ring oscillator's random bit; a
// port for real silicon would mix ROSC RANDOMBIT in). Good enough for ISNs
// and ephemeral ports in CI; not for cryptography.
void stackport_urandom(uint8_t *buf, size_t n) {
    static uint32_t state;
    if (state == 0) {
        uint8_t id[8];
        stackport_unique_id(id);
        state = TIMER_TIMERAWL ^ 0x9e3779b9u;
        for (int i = 0; i < 8; i++) {
            state = state * 31u + id[i];
        }
        if (state == 0) {
            state = 1;
        }
    }
    for (size_t i = 0; i < n; i++) {
        state ^= TIMER_TIMERAWL << 8;
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        buf[i] = state >> 24;
    }
}

void stackport_unique_id(uint8_t id[8]) {
    const stackport_files_hdr_t *h = stackport_files();
    if (h != NULL) {
        memcpy(id, h->unique_id, 8);
    } else {
        memset(id, 0xee, 8);
    }
}

void stackport_fatal(const char *msg) {
    mp_hal_stdout_tx_strn("\r\nFATAL: ", 9);
    mp_hal_stdout_tx_strn(msg, strlen(msg));
    mp_hal_stdout_tx_strn("\r\n", 2);
    for (;;) {
        __asm volatile ("bkpt #2");  // the runner reports it and exits non-zero
    }
}

// -- vectors and reset ----------------------------------------------------------------

static void hard_fault(void) {
    stackport_fatal("HardFault");
}

static void unexpected_irq(void) {
    stackport_fatal("unexpected interrupt");
}

void reset_handler(void);

typedef void (*vector_t)(void);
__attribute__((section(".vectors"), used)) const vector_t vectors[16 + 32] = {
    (vector_t)&_estack,
    reset_handler,
    unexpected_irq,  // NMI
    hard_fault,
    [4 ... 15] = unexpected_irq,
    [16 ... 47] = unexpected_irq,
    [16 + IRQ_TIMER0] = timer_irq,
    [16 + IRQ_UART0] = uart_irq,
};

int main(void);

void reset_handler(void) {
    SCB_VTOR = (uint32_t)vectors;
    uint32_t *src = &_sidata;
    for (uint32_t *dst = &_sdata; dst < &_edata;) {
        *dst++ = *src++;
    }
    for (uint32_t *dst = &_sbss; dst < &_ebss;) {
        *dst++ = 0;
    }
    main();
    stackport_fatal("main returned");
}

int main(void) {
    uart_init();
    char *heap = (char *)&_heap_start;
    size_t heap_size = (char *)&_heap_end - heap;
    const stackport_files_hdr_t *files = stackport_files();
    if (files != NULL && files->heap_bytes != 0) {
        if (files->heap_bytes > heap_size) {
            stackport_fatal("the file table asks for a heap larger than the RAM left");
        }
        heap_size = files->heap_bytes;  // a smaller heap, as the runner asked
    }
    // stack: from _estack down; a little margin below it for the checks
    stackport_repl_forever(&_estack, STACK_BYTES - 512, heap, heap_size, "/lib");
    return 0;
}

// open(): this board has no filesystem; code comes from the file table
static mp_obj_t rp2040_open(size_t n_args, const mp_obj_t *args, mp_map_t *kwargs) {
    mp_raise_msg(&mp_type_OSError, MP_ERROR_TEXT("open(): no filesystem on this port"));
}
MP_DEFINE_CONST_FUN_OBJ_KW(mp_builtin_open_obj, 1, rp2040_open);
