/*
 * The lwIP baseline of `python -m bench compare`: lwIP (NO_SYS, raw API) on a
 * Linux TAP, serving
 *   GET /            a fixed 1024-byte page (keep-alive as HTTP/1.1 says)
 *   GET /bulk?n=N    exactly N bytes (default 10 MB), "a".."z" repeated
 * anything else: 404. Requests are read up to the blank line; pipelined
 * requests are answered in order.
 *
 *   lwip_httpd --fd N [--ip 192.0.2.2] [--mask 255.255.255.0] [--gw 192.0.2.1]
 *
 * N is an open TAP fd (IFF_TAP | IFF_NO_PI) inherited from the bench, which
 * made the TAP inside a network namespace. One thread: poll() on the TAP,
 * each frame read straight into a pool pbuf and handed to lwIP, then lwIP's
 * timers. Prints "LISTENING ip:80" once it serves. Built by bench/lwip.py
 * against Debian's lwIP source; see bench/README.md.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lwip/init.h"
#include "lwip/etharp.h"
#include "lwip/netif.h"
#include "lwip/pbuf.h"
#include "lwip/tcp.h"
#include "lwip/timeouts.h"
#include "netif/ethernet.h"

#define FRAME_MAX 1518
#define HEAD_MAX 1024
#define BULK_DEFAULT 10000000UL
#define CHUNK_LEN (26 * 630) /* 16380 bytes of "a".."z" */

static int tap_fd = -1;
static volatile sig_atomic_t stopping;
static char chunk[CHUNK_LEN];
static char page_keep[1200];
static char page_close[1200];
static u16_t page_keep_len, page_close_len;
static const char not_found[] = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";

struct conn {
  char head[HEAD_MAX]; /* request bytes not yet answered */
  u16_t n;
  unsigned long bulk_left; /* body bytes of /bulk still to queue */
  int close_after;         /* close once everything queued is acknowledged */
  char bulk_head[160];     /* the /bulk response head (lwIP references it) */
};

u32_t sys_now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (u32_t)(ts.tv_sec * 1000u + ts.tv_nsec / 1000000u);
}

/* -- the TAP netif -------------------------------------------------------- */

static err_t tap_linkoutput(struct netif *nif, struct pbuf *p)
{
  (void)nif;
  /* LWIP_NETIF_TX_SINGLE_PBUF: a frame is one pbuf */
  ssize_t w = write(tap_fd, p->payload, p->tot_len);
  return w == (ssize_t)p->tot_len ? ERR_OK : ERR_IF;
}

static err_t tap_init(struct netif *nif)
{
  static const u8_t mac[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x02};
  nif->name[0] = 't';
  nif->name[1] = 'p';
  nif->output = etharp_output;
  nif->linkoutput = tap_linkoutput;
  nif->mtu = 1500;
  nif->hwaddr_len = 6;
  memcpy(nif->hwaddr, mac, 6);
  nif->flags = NETIF_FLAG_BROADCAST | NETIF_FLAG_ETHARP | NETIF_FLAG_ETHERNET;
  return ERR_OK;
}

/* Every frame waiting on the TAP, each read into its own pool pbuf. */
static void tap_input(struct netif *nif)
{
  for (;;) {
    struct pbuf *p = pbuf_alloc(PBUF_RAW, FRAME_MAX, PBUF_POOL);
    if (p == NULL) {
      static char sink[FRAME_MAX];
      if (read(tap_fd, sink, sizeof sink) < 0) /* out of pbufs: drop the frame */
        return;
      continue;
    }
    ssize_t n = read(tap_fd, p->payload, FRAME_MAX);
    if (n <= 0) {
      pbuf_free(p);
      return; /* EAGAIN: nothing more now */
    }
    pbuf_realloc(p, (u16_t)n);
    if (nif->input(p, nif) != ERR_OK)
      pbuf_free(p);
  }
}

/* -- HTTP ----------------------------------------------------------------- */

static void conn_free(struct tcp_pcb *pcb, struct conn *c)
{
  tcp_arg(pcb, NULL);
  tcp_recv(pcb, NULL);
  tcp_sent(pcb, NULL);
  tcp_err(pcb, NULL);
  free(c);
}

/* ERR_ABRT if the pcb had to be aborted (a callback must then return it). */
static err_t conn_close(struct tcp_pcb *pcb, struct conn *c)
{
  conn_free(pcb, c);
  if (tcp_close(pcb) == ERR_OK)
    return ERR_OK;
  tcp_abort(pcb);
  return ERR_ABRT;
}

/* Queue as much of the /bulk body as lwIP takes now (no copy: the chunk is static). */
static void bulk_fill(struct tcp_pcb *pcb, struct conn *c)
{
  while (c->bulk_left > 0) {
    u16_t room = tcp_sndbuf(pcb);
    if (room < TCP_MSS && room < c->bulk_left)
      break;
    unsigned long k = c->bulk_left < CHUNK_LEN ? c->bulk_left : CHUNK_LEN;
    if (k > room)
      k = room;
    u8_t flags = c->bulk_left > k ? TCP_WRITE_FLAG_MORE : 0;
    if (tcp_write(pcb, chunk, (u16_t)k, flags) != ERR_OK)
      break; /* queue full: the sent callback comes back */
    c->bulk_left -= k;
  }
  tcp_output(pcb);
}

static int has_token(const char *h, u16_t n, const char *tok)
{
  size_t t = strlen(tok);
  for (u16_t i = 0; i + t <= n; i++)
    if (strncasecmp(h + i, tok, t) == 0)
      return 1;
  return 0;
}

/* Answer the request head h[0:n] (ending with the blank line). */
static void answer(struct tcp_pcb *pcb, struct conn *c, const char *h, u16_t n)
{
  const char *sp = memchr(h, ' ', n);
  const char *le = memchr(h, '\n', n);
  int http10 = le && le - h >= 9 && memcmp(le - 9, "HTTP/1.0", 8) == 0;
  int close = http10 ? !has_token(h, n, "connection: keep-alive")
                     : has_token(h, n, "connection: close");
  if (sp && strncmp(sp + 1, "/ ", 2) == 0) {
    if (close)
      tcp_write(pcb, page_close, page_close_len, 0);
    else
      tcp_write(pcb, page_keep, page_keep_len, 0);
  } else if (sp && strncmp(sp + 1, "/bulk", 5) == 0) {
    unsigned long len = BULK_DEFAULT;
    const char *q = memchr(sp + 1, '?', (size_t)(h + n - sp - 1));
    if (q && strncmp(q, "?n=", 3) == 0)
      len = strtoul(q + 3, NULL, 10);
    int k = snprintf(c->bulk_head, sizeof c->bulk_head,
                     "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                     "Content-Length: %lu\r\n%s\r\n",
                     len, close ? "Connection: close\r\n" : "");
    tcp_write(pcb, c->bulk_head, (u16_t)k, TCP_WRITE_FLAG_MORE);
    c->bulk_left = len;
    bulk_fill(pcb, c);
  } else {
    tcp_write(pcb, not_found, sizeof not_found - 1, 0);
  }
  c->close_after = close;
}

static err_t serve(struct tcp_pcb *pcb, struct conn *c)
{
  while (c->bulk_left == 0 && !c->close_after) {
    char *end = NULL;
    for (u16_t i = 3; i < c->n; i++)
      if (memcmp(c->head + i - 3, "\r\n\r\n", 4) == 0) {
        end = c->head + i + 1;
        break;
      }
    if (end == NULL) {
      if (c->n == HEAD_MAX) /* a head larger than the buffer: give up */
        c->close_after = 1;
      break;
    }
    u16_t used = (u16_t)(end - c->head);
    answer(pcb, c, c->head, used);
    memmove(c->head, end, c->n - used);
    c->n -= used;
  }
  tcp_output(pcb);
  if (c->close_after && c->bulk_left == 0)
    return conn_close(pcb, c); /* lwIP sends the FIN after the queued data */
  return ERR_OK;
}

static err_t on_sent(void *arg, struct tcp_pcb *pcb, u16_t len)
{
  struct conn *c = arg;
  (void)len;
  if (c && c->bulk_left > 0) {
    bulk_fill(pcb, c);
    if (c->bulk_left == 0)
      return serve(pcb, c); /* pipelined requests waited for the body */
  }
  return ERR_OK;
}

static err_t on_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
  struct conn *c = arg;
  if (p == NULL || err != ERR_OK) { /* the peer closed */
    if (p)
      pbuf_free(p);
    if (c)
      return conn_close(pcb, c);
    if (tcp_close(pcb) != ERR_OK) {
      tcp_abort(pcb);
      return ERR_ABRT;
    }
    return ERR_OK;
  }
  u16_t total = p->tot_len;
  if (c) {
    u16_t room = HEAD_MAX - c->n;
    u16_t k = total < room ? total : room;
    pbuf_copy_partial(p, c->head + c->n, k, 0);
    c->n += k;
  }
  tcp_recved(pcb, total);
  pbuf_free(p);
  return c ? serve(pcb, c) : ERR_OK;
}

static void on_err(void *arg, err_t err)
{
  (void)err;
  free(arg); /* lwIP has freed the pcb */
}

static err_t on_accept(void *arg, struct tcp_pcb *pcb, err_t err)
{
  (void)arg;
  if (err != ERR_OK || pcb == NULL)
    return ERR_VAL;
  struct conn *c = calloc(1, sizeof *c);
  if (c == NULL) {
    tcp_abort(pcb);
    return ERR_ABRT;
  }
  tcp_nagle_disable(pcb);
  tcp_arg(pcb, c);
  tcp_recv(pcb, on_recv);
  tcp_sent(pcb, on_sent);
  tcp_err(pcb, on_err);
  return ERR_OK;
}

static void pages(void)
{
  static const char top[] = "<!DOCTYPE html><html><head><title>bench</title></head><body><pre>";
  static const char tail[] = "</pre></body>";
  char body[1024];
  size_t t = sizeof top - 1, e = sizeof tail - 1;
  memcpy(body, top, t);
  memset(body + t, 'x', sizeof body - t - e);
  memcpy(body + sizeof body - e, tail, e);
  const char *head = "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 1024\r\n";
  int k = snprintf(page_keep, sizeof page_keep, "%s\r\n", head);
  memcpy(page_keep + k, body, sizeof body);
  page_keep_len = (u16_t)(k + sizeof body);
  k = snprintf(page_close, sizeof page_close, "%sConnection: close\r\n\r\n", head);
  memcpy(page_close + k, body, sizeof body);
  page_close_len = (u16_t)(k + sizeof body);
  for (int i = 0; i < CHUNK_LEN; i++)
    chunk[i] = (char)('a' + i % 26);
}

static void on_signal(int sig)
{
  (void)sig;
  stopping = 1;
}

int main(int argc, char **argv)
{
  const char *ip = "192.0.2.2", *mask = "255.255.255.0", *gw = "192.0.2.1";
  for (int i = 1; i + 1 < argc; i += 2) {
    if (strcmp(argv[i], "--fd") == 0)
      tap_fd = atoi(argv[i + 1]);
    else if (strcmp(argv[i], "--ip") == 0)
      ip = argv[i + 1];
    else if (strcmp(argv[i], "--mask") == 0)
      mask = argv[i + 1];
    else if (strcmp(argv[i], "--gw") == 0)
      gw = argv[i + 1];
  }
  if (tap_fd < 0) {
    fprintf(stderr, "usage: %s --fd TAP_FD [--ip A] [--mask M] [--gw G]\n", argv[0]);
    return 2;
  }
  fcntl(tap_fd, F_SETFL, fcntl(tap_fd, F_GETFL) | O_NONBLOCK);
  signal(SIGTERM, on_signal);
  signal(SIGINT, on_signal);
  pages();

  lwip_init();
  ip4_addr_t a, m, g;
  if (!ip4addr_aton(ip, &a) || !ip4addr_aton(mask, &m) || !ip4addr_aton(gw, &g)) {
    fprintf(stderr, "bad address\n");
    return 2;
  }
  static struct netif nif;
  netif_add(&nif, &a, &m, &g, NULL, tap_init, ethernet_input);
  netif_set_default(&nif);
  netif_set_link_up(&nif);
  netif_set_up(&nif);

  struct tcp_pcb *l = tcp_new();
  if (l == NULL || tcp_bind(l, IP4_ADDR_ANY, 80) != ERR_OK) {
    fprintf(stderr, "cannot bind port 80\n");
    return 1;
  }
  l = tcp_listen_with_backlog(l, 16);
  tcp_accept(l, on_accept);
  printf("LISTENING %s:80\n", ip);
  fflush(stdout);

  struct pollfd pfd = {.fd = tap_fd, .events = POLLIN};
  while (!stopping) {
    u32_t wait = sys_timeouts_sleeptime();
    int timeout = wait == SYS_TIMEOUTS_SLEEPTIME_INFINITE ? 1000 : (int)(wait > 1000 ? 1000 : wait);
    int r = poll(&pfd, 1, timeout);
    if (r < 0 && errno != EINTR)
      break;
    if (r > 0)
      tap_input(&nif);
    sys_check_timeouts();
  }
  return 0;
}
