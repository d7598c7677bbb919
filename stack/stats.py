# Counters by name. Every drop path increments one; iface.stats is the dict a
# user reads from the REPL and /stats.json serves. Keys are created at start-up
# (register) so counting never grows the dict on the hot path.


def register(stats, *names):
    for name in names:
        if name not in stats:
            stats[name] = 0
    return stats
