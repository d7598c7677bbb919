// The read-only file table (rp2040): the .mpy files a board would hold in
// /lib after `mpremote cp`, placed in flash beside the firmware by the runner
// (format: stackport.h, generator: mkfiles.py). Imports read them through
// mp_import_stat and a memory reader WITHOUT the ROM flag, so the loader
// copies their bytecode and native code into the GC heap, as on a board that
// imports .mpy files from its filesystem.
#include <string.h>

#include "py/builtin.h"
#include "py/lexer.h"
#include "py/mperrno.h"
#include "py/reader.h"
#include "py/runtime.h"
#include "stackport.h"

extern const uint8_t _files_start[];

const stackport_files_hdr_t *stackport_files(void) {
    const stackport_files_hdr_t *h = (const stackport_files_hdr_t *)_files_start;
    return h->magic == STACKPORT_FILES_MAGIC ? h : NULL;
}

static const stackport_file_t *entries(const stackport_files_hdr_t *h) {
    return (const stackport_file_t *)(h + 1);
}

static const char *name_of(const stackport_files_hdr_t *h, const stackport_file_t *f) {
    return (const char *)h + f->name_off;
}

// file table names have no leading "/"
static const char *strip(const char *path) {
    while (*path == '/') {
        path++;
    }
    return path;
}

static const stackport_file_t *find(const char *path) {
    const stackport_files_hdr_t *h = stackport_files();
    if (h == NULL) {
        return NULL;
    }
    path = strip(path);
    for (uint32_t i = 0; i < h->count; i++) {
        if (strcmp(name_of(h, &entries(h)[i]), path) == 0) {
            return &entries(h)[i];
        }
    }
    return NULL;
}

mp_import_stat_t mp_import_stat(const char *path) {
    const stackport_files_hdr_t *h = stackport_files();
    if (h == NULL) {
        return MP_IMPORT_STAT_NO_EXIST;
    }
    path = strip(path);
    size_t n = strlen(path);
    for (uint32_t i = 0; i < h->count; i++) {
        const char *name = name_of(h, &entries(h)[i]);
        if (strncmp(name, path, n) == 0) {
            if (name[n] == '\0') {
                return MP_IMPORT_STAT_FILE;
            }
            if (name[n] == '/' && n > 0) {
                return MP_IMPORT_STAT_DIR;
            }
        }
    }
    return MP_IMPORT_STAT_NO_EXIST;
}

void mp_reader_new_file(mp_reader_t *reader, qstr filename) {
    const stackport_file_t *f = find(qstr_str(filename));
    if (f == NULL) {
        mp_raise_OSError(MP_ENOENT);
    }
    const stackport_files_hdr_t *h = stackport_files();
    // free_len 0: not ROM, nothing to free; the loader copies into the heap
    mp_reader_new_mem(reader, (const byte *)h + f->data_off, f->size, 0);
}

mp_lexer_t *mp_lexer_new_from_file(qstr filename) {
    mp_reader_t reader;
    mp_reader_new_file(&reader, filename);
    return mp_lexer_new(filename, reader);
}
