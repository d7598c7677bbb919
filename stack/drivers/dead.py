# The error a driver raises once its chip is dead or was reset.
#
# Drivers make that OSError at start-up, so a heap-locked loop can still get
# it. But raising one exception object again and again grows its traceback
# on MicroPython (the VM appends to it, ~48 bytes a raise, for good): an
# application that keeps calling a dead driver would leak. So each raise
# gets a fresh copy, and the one made at start-up only when no copy can be
# made (the heap is locked; then the traceback cannot grow either).


def error(made):
    """A new OSError with made's errno and text; made itself if the heap is locked."""
    try:
        return OSError(made.args[0], made.args[1])
    except MemoryError:
        return made
