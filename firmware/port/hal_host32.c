// host32: the stack port as a 32-bit Linux program, so heap figures come from
// real 32-bit object sizes. Usage:
//   host32 [-X heapsize=N[K|M]] (-c CODE | FILE) [ARGS...]   (no file: the REPL)
// MICROPYPATH (colon-separated) gives sys.path after "". The GC heap is one
// mmap'd block, executable, since native (viper) code from .mpy files is
// loaded into it as on a board. Exit status: 0, 1 for an uncaught exception,
// sys.exit()'s value, 3 for a heap exhausted before the program could start.
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "py/builtin.h"
#include "py/compile.h"
#include "py/gc.h"
#include "py/mperrno.h"
#include "py/runtime.h"
#include "py/stream.h"
#include "shared/runtime/gchelper.h"
#include "stackport.h"

#define DEFAULT_HEAP (256 * 1024)

// -- console ---------------------------------------------------------------------

int mp_hal_stdin_rx_chr(void) {
    for (;;) {
        unsigned char c;
        ssize_t r = read(0, &c, 1);
        if (r == 1) {
            return c;
        }
        if (r == 0) {
            exit(0);  // end of input ends the REPL
        }
        if (errno != EINTR) {
            exit(1);
        }
        mp_handle_pending(true);
    }
}

mp_uint_t mp_hal_stdout_tx_strn(const char *str, size_t len) {
    size_t done = 0;
    while (done < len) {
        ssize_t r = write(1, str + done, len - done);
        if (r <= 0) {
            if (r < 0 && errno == EINTR) {
                continue;
            }
            break;
        }
        done += r;
    }
    return done;
}

uintptr_t mp_hal_stdio_poll(uintptr_t poll_flags) {
    struct pollfd p = { .fd = 0, .events = POLLIN };
    uintptr_t ret = 0;
    if ((poll_flags & MP_STREAM_POLL_RD) && poll(&p, 1, 0) == 1 && (p.revents & POLLIN)) {
        ret |= MP_STREAM_POLL_RD;
    }
    return ret | (poll_flags & MP_STREAM_POLL_WR);
}

// -- time ------------------------------------------------------------------------------

uint64_t stackport_time_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + ts.tv_nsec / 1000;
}

mp_uint_t mp_hal_ticks_ms(void) {
    return (mp_uint_t)(stackport_time_us() / 1000);
}

mp_uint_t mp_hal_ticks_us(void) {
    return (mp_uint_t)stackport_time_us();
}

mp_uint_t mp_hal_ticks_cpu(void) {
    return (mp_uint_t)stackport_time_us();
}

void stackport_wait_until(uint64_t until) {
    uint64_t now = stackport_time_us();
    if (until > now) {
        uint64_t d = until - now;
        struct timespec ts = { .tv_sec = d / 1000000, .tv_nsec = (d % 1000000) * 1000 };
        nanosleep(&ts, NULL);  // a signal (Ctrl-C) ends it early
    }
}

void mp_hal_delay_us(mp_uint_t us) {
    uint64_t until = stackport_time_us() + us;
    while (stackport_time_us() < until) {
        stackport_wait_until(until);
        mp_handle_pending(true);
    }
}

void mp_hal_delay_ms(mp_uint_t ms) {
    mp_hal_delay_us(ms * 1000);
}

void stackport_urandom(uint8_t *buf, size_t n) {
    while (n > 0) {
        ssize_t r = getrandom(buf, n, 0);
        if (r <= 0) {
            if (r < 0 && errno == EINTR) {
                continue;
            }
            stackport_fatal("getrandom failed");
        }
        buf += r;
        n -= r;
    }
}

void stackport_unique_id(uint8_t id[8]) {
    static const uint8_t fixed[8] = { 'h', 'o', 's', 't', '3', '2', 0, 1 };
    memcpy(id, fixed, 8);
}

void stackport_fatal(const char *msg) {
    fprintf(stderr, "host32: %s\n", msg);
    fflush(stderr);
    _exit(3);
}

// -- imports: the directories on sys.path -----------------------------------------

mp_import_stat_t mp_import_stat(const char *path) {
    struct stat st;
    if (stat(path, &st) == 0) {
        return S_ISDIR(st.st_mode) ? MP_IMPORT_STAT_DIR : MP_IMPORT_STAT_FILE;
    }
    return MP_IMPORT_STAT_NO_EXIST;
}

// -- open(fd): the launcher's framed wire is a file descriptor ----------------------

typedef struct {
    mp_obj_base_t base;
    int fd;
} fdfile_obj_t;

static mp_uint_t fdfile_read(mp_obj_t self_in, void *buf, mp_uint_t size, int *errcode) {
    fdfile_obj_t *self = MP_OBJ_TO_PTR(self_in);
    for (;;) {
        ssize_t r = read(self->fd, buf, size);
        if (r >= 0) {
            return r;
        }
        if (errno != EINTR) {
            *errcode = errno;
            return MP_STREAM_ERROR;
        }
        mp_handle_pending(true);
    }
}

static mp_uint_t fdfile_write(mp_obj_t self_in, const void *buf, mp_uint_t size, int *errcode) {
    fdfile_obj_t *self = MP_OBJ_TO_PTR(self_in);
    for (;;) {
        ssize_t r = write(self->fd, buf, size);
        if (r >= 0) {
            return r;
        }
        if (errno != EINTR) {
            *errcode = errno;
            return MP_STREAM_ERROR;
        }
        mp_handle_pending(true);
    }
}

static mp_uint_t fdfile_ioctl(mp_obj_t self_in, mp_uint_t request, uintptr_t arg, int *errcode) {
    fdfile_obj_t *self = MP_OBJ_TO_PTR(self_in);
    if (request == MP_STREAM_CLOSE) {
        if (self->fd >= 0) {
            close(self->fd);
            self->fd = -1;
        }
        return 0;
    }
    if (request == MP_STREAM_GET_FILENO) {
        return self->fd;
    }
    *errcode = MP_EINVAL;
    return MP_STREAM_ERROR;
}

static mp_obj_t fdfile_fileno(mp_obj_t self_in) {
    fdfile_obj_t *self = MP_OBJ_TO_PTR(self_in);
    return MP_OBJ_NEW_SMALL_INT(self->fd);
}
static MP_DEFINE_CONST_FUN_OBJ_1(fdfile_fileno_obj, fdfile_fileno);

static const mp_rom_map_elem_t fdfile_locals_table[] = {
    { MP_ROM_QSTR(MP_QSTR_read), MP_ROM_PTR(&mp_stream_read_obj) },
    { MP_ROM_QSTR(MP_QSTR_readinto), MP_ROM_PTR(&mp_stream_readinto_obj) },
    { MP_ROM_QSTR(MP_QSTR_write), MP_ROM_PTR(&mp_stream_write_obj) },
    { MP_ROM_QSTR(MP_QSTR_close), MP_ROM_PTR(&mp_stream_close_obj) },
    { MP_ROM_QSTR(MP_QSTR_fileno), MP_ROM_PTR(&fdfile_fileno_obj) },
};
static MP_DEFINE_CONST_DICT(fdfile_locals, fdfile_locals_table);

static const mp_stream_p_t fdfile_stream_p = {
    .read = fdfile_read,
    .write = fdfile_write,
    .ioctl = fdfile_ioctl,
};

static MP_DEFINE_CONST_OBJ_TYPE(
    fdfile_type, MP_QSTR_FileIO, MP_TYPE_FLAG_ITER_IS_STREAM,
    protocol, &fdfile_stream_p,
    locals_dict, &fdfile_locals);

// open(fd, mode): a stream over an inherited file descriptor (the only kind
// of file this port has; paths raise OSError).
static mp_obj_t host32_open(size_t n_args, const mp_obj_t *args, mp_map_t *kwargs) {
    if (!mp_obj_is_small_int(args[0])) {
        mp_raise_msg(&mp_type_OSError, MP_ERROR_TEXT("open(): only file descriptors on host32"));
    }
    fdfile_obj_t *o = mp_obj_malloc(fdfile_obj_t, &fdfile_type);
    o->fd = MP_OBJ_SMALL_INT_VALUE(args[0]);
    return MP_OBJ_FROM_PTR(o);
}
MP_DEFINE_CONST_FUN_OBJ_KW(mp_builtin_open_obj, 1, host32_open);

// -- select.poll over file descriptors (FramedWire's readiness test) ----------------

#define POLL_MAX 4

typedef struct {
    mp_obj_base_t base;
    size_t n;
    mp_obj_t objs[POLL_MAX];
    struct pollfd fds[POLL_MAX];
    size_t iter_next;
    mp_obj_tuple_t *ret;  // ipoll's (obj, events) tuple, made once and reused
} pollobj_t;

static int poll_fd_of(mp_obj_t obj) {
    if (mp_obj_is_small_int(obj)) {
        return MP_OBJ_SMALL_INT_VALUE(obj);
    }
    const mp_stream_p_t *p = mp_get_stream_raise(obj, MP_STREAM_OP_IOCTL);
    int err;
    mp_uint_t fd = p->ioctl(obj, MP_STREAM_GET_FILENO, 0, &err);
    if (fd == MP_STREAM_ERROR) {
        mp_raise_OSError(err);
    }
    return fd;
}

static mp_obj_t poll_register(size_t n_args, const mp_obj_t *args) {
    pollobj_t *self = MP_OBJ_TO_PTR(args[0]);
    int fd = poll_fd_of(args[1]);
    short ev = n_args > 2 ? mp_obj_get_int(args[2]) : (POLLIN | POLLOUT);
    for (size_t i = 0; i < self->n; i++) {
        if (self->fds[i].fd == fd) {
            self->fds[i].events = ev;
            return mp_const_none;
        }
    }
    if (self->n == POLL_MAX) {
        mp_raise_msg(&mp_type_OSError, MP_ERROR_TEXT("poll: too many objects"));
    }
    self->objs[self->n] = args[1];
    self->fds[self->n].fd = fd;
    self->fds[self->n].events = ev;
    self->n++;
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(poll_register_obj, 2, 3, poll_register);

static int poll_wait(pollobj_t *self, mp_int_t timeout_ms) {
    for (;;) {
        int r = poll(self->fds, self->n, timeout_ms);
        if (r >= 0) {
            return r;
        }
        if (errno != EINTR) {
            mp_raise_OSError(errno);
        }
        mp_handle_pending(true);
    }
}

// ipoll(timeout_ms): the poll object iterates itself, yielding one reused tuple
static mp_obj_t poll_ipoll(size_t n_args, const mp_obj_t *args) {
    pollobj_t *self = MP_OBJ_TO_PTR(args[0]);
    mp_int_t timeout = n_args > 1 && args[1] != mp_const_none ? mp_obj_get_int(args[1]) : -1;
    self->iter_next = poll_wait(self, timeout) > 0 ? 0 : self->n;
    return args[0];
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(poll_ipoll_obj, 1, 3, poll_ipoll);

static mp_obj_t poll_iternext(mp_obj_t self_in) {
    pollobj_t *self = MP_OBJ_TO_PTR(self_in);
    while (self->iter_next < self->n) {
        size_t i = self->iter_next++;
        if (self->fds[i].revents) {
            self->ret->items[0] = self->objs[i];
            self->ret->items[1] = MP_OBJ_NEW_SMALL_INT(self->fds[i].revents);
            return MP_OBJ_FROM_PTR(self->ret);
        }
    }
    return MP_OBJ_STOP_ITERATION;
}

static const mp_rom_map_elem_t poll_locals_table[] = {
    { MP_ROM_QSTR(MP_QSTR_register), MP_ROM_PTR(&poll_register_obj) },
    { MP_ROM_QSTR(MP_QSTR_ipoll), MP_ROM_PTR(&poll_ipoll_obj) },
};
static MP_DEFINE_CONST_DICT(poll_locals, poll_locals_table);

static MP_DEFINE_CONST_OBJ_TYPE(
    pollobj_type, MP_QSTR_poll, MP_TYPE_FLAG_ITER_IS_ITERNEXT,
    iter, poll_iternext,
    locals_dict, &poll_locals);

static mp_obj_t select_poll(void) {
    pollobj_t *o = mp_obj_malloc(pollobj_t, &pollobj_type);
    o->n = 0;
    o->iter_next = 0;
    o->ret = MP_OBJ_TO_PTR(mp_obj_new_tuple(2, NULL));
    return MP_OBJ_FROM_PTR(o);
}
static MP_DEFINE_CONST_FUN_OBJ_0(select_poll_obj, select_poll);

static const mp_rom_map_elem_t select_module_globals_table[] = {
    { MP_ROM_QSTR(MP_QSTR___name__), MP_ROM_QSTR(MP_QSTR_select) },
    { MP_ROM_QSTR(MP_QSTR_poll), MP_ROM_PTR(&select_poll_obj) },
    { MP_ROM_QSTR(MP_QSTR_POLLIN), MP_ROM_INT(POLLIN) },
    { MP_ROM_QSTR(MP_QSTR_POLLOUT), MP_ROM_INT(POLLOUT) },
    { MP_ROM_QSTR(MP_QSTR_POLLERR), MP_ROM_INT(POLLERR) },
    { MP_ROM_QSTR(MP_QSTR_POLLHUP), MP_ROM_INT(POLLHUP) },
};
static MP_DEFINE_CONST_DICT(select_module_globals, select_module_globals_table);

const mp_obj_module_t host32_select_module = {
    .base = { &mp_type_module },
    .globals = (mp_obj_dict_t *)&select_module_globals,
};
MP_REGISTER_MODULE(MP_QSTR_select, host32_select_module);

// -- entry ---------------------------------------------------------------------------

static void sigint_handler(int sig) {
    mp_sched_keyboard_interrupt();
}

static size_t parse_heapsize(const char *s) {
    char *end;
    unsigned long v = strtoul(s, &end, 10);
    if (*end == 'k' || *end == 'K') {
        v *= 1024;
    } else if (*end == 'm' || *end == 'M') {
        v *= 1024 * 1024;
    }
    return v;
}

// Run one compiled input; returns the process exit status.
static int run_lexer(mp_lexer_t *lex) {
    nlr_buf_t nlr;
    if (nlr_push(&nlr) == 0) {
        qstr source_name = lex->source_name;
        mp_parse_tree_t pt = mp_parse(lex, MP_PARSE_FILE_INPUT);
        mp_obj_t fun = mp_compile(&pt, source_name, false);
        mp_call_function_0(fun);
        nlr_pop();
        return 0;
    }
    mp_obj_t exc = MP_OBJ_FROM_PTR(nlr.ret_val);
    if (mp_obj_is_subclass_fast(MP_OBJ_FROM_PTR(mp_obj_get_type(exc)),
        MP_OBJ_FROM_PTR(&mp_type_SystemExit))) {
        mp_obj_t code = mp_obj_exception_get_value(exc);
        if (code == mp_const_none) {
            return 0;
        }
        if (mp_obj_is_small_int(code)) {
            return MP_OBJ_SMALL_INT_VALUE(code);
        }
        mp_obj_print_helper(&mp_plat_print, code, PRINT_STR);
        mp_printf(&mp_plat_print, "\n");
        return 1;
    }
    mp_obj_print_exception(&mp_plat_print, exc);
    return 1;
}

int main(int argc, char **argv) {
    int stack_marker;
    size_t heap_size = DEFAULT_HEAP;
    const char *code = NULL;
    int i = 1;
    while (i < argc) {
        if (strcmp(argv[i], "-X") == 0 && i + 1 < argc && strncmp(argv[i + 1], "heapsize=", 9) == 0) {
            heap_size = parse_heapsize(argv[i + 1] + 9);
            i += 2;
        } else if (strcmp(argv[i], "-c") == 0 && i + 1 < argc) {
            code = argv[i + 1];
            i += 2;
            break;
        } else {
            break;
        }
    }
    if (heap_size < 4096) {
        fprintf(stderr, "host32: heapsize too small\n");
        return 2;
    }
    void *heap = mmap(NULL, heap_size, PROT_READ | PROT_WRITE | PROT_EXEC,
        MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (heap == MAP_FAILED) {
        perror("host32: mmap");
        return 2;
    }
    const char *path = getenv("MICROPYPATH");
    stackport_vm_init(&stack_marker, 256 * 1024, heap, heap_size, path);

    if (code == NULL && i >= argc) {
        stackport_repl_forever(&stack_marker, 256 * 1024, heap, heap_size, path);
    }

    // sys.argv: the script (or "") and what follows it
    mp_obj_list_init(MP_OBJ_TO_PTR(mp_sys_argv), 0);
    for (int a = code ? i - 1 : i; a < argc; a++) {
        const char *s = (code && a == i - 1) ? "" : argv[a];
        mp_obj_list_append(mp_sys_argv, mp_obj_new_str(s, strlen(s)));
    }
    signal(SIGINT, sigint_handler);
    signal(SIGTERM, sigint_handler);

    int status;
    nlr_buf_t nlr;
    if (nlr_push(&nlr) == 0) {
        mp_lexer_t *lex;
        if (code) {
            lex = mp_lexer_new_from_str_len(MP_QSTR__lt_stdin_gt_, code, strlen(code), 0);
        } else {
            lex = mp_lexer_new_from_file(qstr_from_str(argv[i]));
        }
        nlr_pop();
        status = run_lexer(lex);
    } else {
        mp_obj_print_exception(&mp_plat_print, MP_OBJ_FROM_PTR(nlr.ret_val));
        status = 1;
    }
    stackport_heap_report();
    stackport_vm_deinit();
    return status;
}
