// What the port's own files share (main.c, hal_*.c, mod*.c).
#ifndef STACKPORT_H
#define STACKPORT_H
#include <stddef.h>
#include <stdint.h>

void stackport_vm_init(void *stack_top, size_t stack_bytes, void *heap, size_t heap_size,
    const char *path);
void stackport_vm_deinit(void);
void stackport_heap_report(void);
void stackport_repl_forever(void *stack_top, size_t stack_bytes, void *heap, size_t heap_size,
    const char *path);
// one line on the console, then stop (rp2040: bkpt, host32: exit 3)
void stackport_fatal(const char *msg) __attribute__((noreturn));

// Read-only file table (rp2040): see mkfiles.py for the format.
#define STACKPORT_FILES_MAGIC 0x53465450u  // "PTFS" little-endian
typedef struct {
    uint32_t magic;
    uint32_t count;
    uint8_t unique_id[8];
    uint32_t heap_bytes;  // 0: all RAM the linker leaves for the heap
    uint32_t reserved;
    // then `count` entries of stackport_file_t
} stackport_files_hdr_t;
typedef struct {
    uint32_t name_off;  // from the table start, NUL-terminated
    uint32_t data_off;  // from the table start
    uint32_t size;
} stackport_file_t;
const stackport_files_hdr_t *stackport_files(void);
#endif
