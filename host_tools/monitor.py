"""monitor: the board's console in this terminal (mpremote's REPL loop).

Every key goes to the board, Ctrl-C (interrupt) and Ctrl-D (soft reset)
included; Ctrl-] or Ctrl-X quits. Nothing is sent on connect, so a running
program keeps running and its output shows as it comes.
"""

import sys


def run(port):
    from host_tools import serialport

    if not sys.stdin.isatty():
        print("monitor: needs a terminal on stdin (keys go to the board as typed)",
              file=sys.stderr)
        return 2
    try:
        t = serialport.transport(port)
    except serialport.PortError as e:
        print("monitor: " + str(e), file=sys.stderr)
        return 2
    from mpremote.console import Console
    from mpremote.main import State
    from mpremote.repl import do_repl_main_loop

    state = State()
    state.transport = t
    print("monitor: %s; Ctrl-] or Ctrl-X quits, Ctrl-C and Ctrl-D go to the board" % port,
          file=sys.stderr, flush=True)
    console = Console()
    console.enter()
    try:
        gone = do_repl_main_loop(state, console, console.write, escape_non_printable=False,
                                 code_to_inject=None, file_to_inject=None)
    finally:
        console.exit()
        try:
            t.close()
        except OSError:
            pass
    if gone:
        print("\nmonitor: %s went away (the board reset or was unplugged)" % port,
              file=sys.stderr)
        return 1
    print("", file=sys.stderr)
    return 0
