# Inner build of the stack port, run by ./Makefile with
#   make -f port.mk TARGET=host32|rp2040 MPTOP=<unpacked source> BUILD=<out dir>
# from this directory. It uses the source archive's own py/ build rules.
ifeq ($(MPTOP),)
$(error MPTOP (the unpacked MicroPython source) is not set: run make in firmware/port)
endif
include $(MPTOP)/py/mkenv.mk

QSTR_DEFS = qstrdefsport.h
QSTR_GLOBAL_DEPENDENCIES += mphalport.h
MICROPY_ROM_TEXT_COMPRESSION ?= 0

ifeq ($(TARGET),rp2040)
CROSS_COMPILE = arm-none-eabi-
else ifeq ($(TARGET),host32)
MICROPY_FORCE_32BIT = 1
else
$(error TARGET must be rp2040 or host32)
endif

include $(TOP)/py/py.mk

INC += -I. -Iinclude -I$(TOP) -I$(BUILD)
CWARN = -Wall -Werror -Wno-unused-parameter -Wno-missing-field-initializers
CFLAGS += $(INC) $(CWARN) -std=gnu99 -Os -g -fdata-sections -ffunction-sections

SRC_C = main.c modtime.c modos.c modjson.c
SRC_SHARED = \
	shared/runtime/pyexec.c \
	shared/runtime/interrupt_char.c \
	shared/runtime/stdout_helpers.c \
	shared/runtime/sys_stdio_mphal.c \
	shared/readline/readline.c

ifeq ($(TARGET),rp2040)
CFLAGS += -DSTACKPORT_RP2040 -mcpu=cortex-m0plus -mthumb -fno-common
SRC_C += hal_rp2040.c modmachine.c files.c
SRC_SHARED += shared/runtime/gchelper_native.c
SRC_S = shared/runtime/gchelper_thumb1.s
LDFLAGS += -mcpu=cortex-m0plus -mthumb -nostartfiles -T rp2040.ld \
	--specs=nano.specs --specs=nosys.specs -Wl,--gc-sections -Wl,-Map=$(BUILD)/firmware.map
LIBS += -lm
PROG_OUT = $(BUILD)/firmware.elf
else
CFLAGS += -DSTACKPORT_HOST32 -m32
SRC_C += hal_host32.c
SRC_SHARED += shared/runtime/gchelper_generic.c
LDFLAGS += -m32 -Wl,--gc-sections
LIBS += -lm
PROG_OUT = $(BUILD)/host32
endif

OBJ = $(PY_O)
OBJ += $(addprefix $(BUILD)/, $(SRC_C:.c=.o))
OBJ += $(addprefix $(BUILD)/, $(SRC_SHARED:.c=.o))
OBJ += $(addprefix $(BUILD)/, $(SRC_S:.s=.o))

SRC_QSTR += $(SRC_C) $(SRC_SHARED)

all: $(PROG_OUT)

$(PROG_OUT): $(OBJ)
	$(ECHO) "LINK $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)
ifeq ($(TARGET),rp2040)
	$(Q)$(OBJCOPY) -O binary $@ $(BUILD)/firmware.bin
	$(Q)$(SIZE) $@
endif

include $(TOP)/py/mkrules.mk
