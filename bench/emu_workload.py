"""The workload the 32-bit heap figures are taken under (bench/heap32.py):
the page, 1 MB from the stack, and 4 concurrent connections, all from Linux
in the board's namespace, each checked for exact length."""

import subprocess

STACK = "192.0.2.2"
MB = 1024 * 1024


def curl(session, path, timeout=60):
    r = session.run("curl", "-s", "-m", str(timeout), "http://%s%s" % (STACK, path),
                    timeout=timeout + 10)
    return r.stdout if r.returncode == 0 else None


def run(session, big=MB, each=64 * 1024):
    """True when every transfer arrived whole (a heap too small shows as a
    transfer that stalls: the time-outs bound each failing run)."""
    page = curl(session, "/")
    if page is None or b"ustack" not in page:
        return False
    body = curl(session, "/bulk?n=%d" % big, 120)
    if body is None or len(body) != big:
        return False
    procs = [subprocess.Popen(["ip", "netns", "exec", session.ns, "curl", "-s", "-m", "120",
                               "http://%s/bulk?n=%d" % (STACK, each)], stdout=subprocess.PIPE)
             for _ in range(4)]
    ok = True
    for p in procs:
        out, _ = p.communicate(timeout=140)
        ok = ok and p.returncode == 0 and len(out) == each
    return ok
