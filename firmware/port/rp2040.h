// RP2040 registers the port touches (RP2040 datasheet, chapter 2 and 4).
#ifndef STACKPORT_RP2040_H
#define STACKPORT_RP2040_H
#include <stdint.h>

#define REG(addr) (*(volatile uint32_t *)(addr))

// atomic register aliases (datasheet 2.1.2): +0x2000 set bits, +0x3000 clear bits
#define REG_SET(addr) REG((addr) + 0x2000)
#define REG_CLR(addr) REG((addr) + 0x3000)

#define RESETS_BASE        0x4000c000u
#define RESETS_RESET       (RESETS_BASE + 0x0)
#define RESETS_DONE        (RESETS_BASE + 0x8)
#define RESET_IO_BANK0     (1u << 5)
#define RESET_PADS_BANK0   (1u << 8)
#define RESET_SPI0         (1u << 16)
#define RESET_SPI1         (1u << 17)
#define RESET_TIMER        (1u << 21)
#define RESET_UART0        (1u << 22)

#define IO_BANK0_BASE      0x40014000u
#define GPIO_CTRL(n)       (IO_BANK0_BASE + 8u * (n) + 4u)
#define FUNC_SPI           1u
#define FUNC_UART          2u
#define FUNC_SIO           5u

#define PADS_BANK0_BASE    0x4001c000u
#define PAD_GPIO(n)        (PADS_BANK0_BASE + 4u + 4u * (n))
#define PAD_OD             (1u << 7)
#define PAD_IE             (1u << 6)
#define PAD_PUE            (1u << 3)
#define PAD_PDE            (1u << 2)

#define SIO_BASE           0xd0000000u
#define SIO_GPIO_IN        REG(SIO_BASE + 0x004)
#define SIO_GPIO_OUT_SET   REG(SIO_BASE + 0x014)
#define SIO_GPIO_OUT_CLR   REG(SIO_BASE + 0x018)
#define SIO_GPIO_OUT       REG(SIO_BASE + 0x010)
#define SIO_GPIO_OE_SET    REG(SIO_BASE + 0x024)
#define SIO_GPIO_OE_CLR    REG(SIO_BASE + 0x028)
#define SIO_GPIO_OE        REG(SIO_BASE + 0x020)

#define UART0_BASE         0x40034000u
#define UART_DR            0x000
#define UART_FR            0x018
#define UART_IBRD          0x024
#define UART_FBRD          0x028
#define UART_LCR_H         0x02c
#define UART_CR            0x030
#define UART_IMSC          0x038
#define UART_ICR           0x044
#define UART_FR_TXFF       (1u << 5)
#define UART_FR_RXFE       (1u << 4)

#define SPI0_BASE          0x4003c000u
#define SPI1_BASE          0x40040000u
#define SSP_CR0            0x000
#define SSP_CR1            0x004
#define SSP_DR             0x008
#define SSP_SR             0x00c
#define SSP_CPSR           0x010
#define SSP_SR_TNF         (1u << 1)
#define SSP_SR_RNE         (1u << 2)
#define SSP_SR_BSY         (1u << 4)
#define SSP_CR1_SSE        (1u << 1)

#define TIMER_BASE         0x40054000u
#define TIMER_TIMEHR       REG(TIMER_BASE + 0x08)
#define TIMER_TIMELR       REG(TIMER_BASE + 0x0c)
#define TIMER_ALARM0       REG(TIMER_BASE + 0x10)
#define TIMER_TIMERAWH     REG(TIMER_BASE + 0x24)
#define TIMER_TIMERAWL     REG(TIMER_BASE + 0x28)
#define TIMER_INTR         REG(TIMER_BASE + 0x34)
#define TIMER_INTE         REG(TIMER_BASE + 0x38)


#define PPB_BASE           0xe0000000u
#define NVIC_ISER          REG(PPB_BASE + 0xe100)
#define NVIC_ICPR          REG(PPB_BASE + 0xe280)
#define SCB_VTOR           REG(PPB_BASE + 0xed08)

#define IRQ_TIMER0         0
#define IRQ_UART0          20

#define CLK_PERI_HZ        125000000u
#define CLK_SYS_HZ         125000000u
#endif
