/* lwIP options for the bench's baseline: lwIP 2.1.3 with NO_SYS (no OS, one
 * loop, the raw API), IPv4 + ARP + ICMP + TCP over Ethernet on a TAP. Sizes
 * are those of a board with RAM to spare, so lwIP is held back by neither
 * pool nor window: the figure is lwIP's speed, not its tightest config. */
#ifndef BENCH_LWIPOPTS_H
#define BENCH_LWIPOPTS_H

#define NO_SYS                      1
#define SYS_LIGHTWEIGHT_PROT        0
#define LWIP_TIMERS                 1
#define LWIP_SOCKET                 0
#define LWIP_NETCONN                0
#define LWIP_IPV4                   1
#define LWIP_IPV6                   0
#define LWIP_ARP                    1
#define LWIP_ETHERNET               1
#define LWIP_ICMP                   1
#define LWIP_RAW                    0
#define LWIP_UDP                    0
#define LWIP_TCP                    1
#define LWIP_DHCP                   0
#define LWIP_AUTOIP                 0
#define LWIP_IGMP                   0
#define LWIP_DNS                    0
#define LWIP_STATS                  0
#define LWIP_NETIF_TX_SINGLE_PBUF   1   /* one write() per frame on the TAP */
#define LWIP_NOASSERT               1   /* a release build */

/* memory: a heap for copied data, pools for pbufs and segments */
#define MEM_ALIGNMENT               8
#define MEM_SIZE                    (512 * 1024)
#define MEMP_NUM_PBUF               256  /* references to the static page / bulk chunks */
#define MEMP_NUM_TCP_PCB            16
#define MEMP_NUM_TCP_PCB_LISTEN     2
#define MEMP_NUM_TCP_SEG            256
#define PBUF_POOL_SIZE              256
#define PBUF_POOL_BUFSIZE           1536 /* a whole frame in one pool pbuf */

/* TCP: full-size segments and room for 16 of them in flight */
#define TCP_MSS                     1460
#define TCP_WND                     (16 * TCP_MSS)
#define TCP_SND_BUF                 (16 * TCP_MSS)
#define TCP_SND_QUEUELEN            (4 * TCP_SND_BUF / TCP_MSS)
#define TCP_QUEUE_OOSEQ             1
#define LWIP_TCP_TIMESTAMPS         0
#define LWIP_WND_SCALE              0
#define TCP_LISTEN_BACKLOG          1
#define TCP_DEFAULT_LISTEN_BACKLOG  16

#endif
