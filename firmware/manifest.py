# Freeze the stack and the firmware into a MicroPython build, so their code runs
# from flash and the heap holds only buffers and objects (the simulator's heap
# cap assumes this). From a MicroPython checkout:
#   make -C ports/rp2 BOARD=W5500_EVB_PICO FROZEN_MANIFEST=$PWD/firmware/manifest.py
#   make -C ports/esp32 BOARD=ESP32_GENERIC FROZEN_MANIFEST=$PWD/firmware/manifest.py
# then copy the board file as /board.py and firmware/main.py as /main.py
# (`python -m host_tools deploy` copies them with the rest; frozen modules win
# over /lib only when '.frozen' comes first in sys.path, as it does by default).
# The firmware modules are the ones firmware/main.py imports (a test holds this
# list equal to what `host_tools build --board` puts on a board).
include("$(PORT_DIR)/boards/manifest.py")
package("stack", base_path="..", opt=3)
package(
    "firmware",
    files=["__init__.py", "http.py", "net_services.py", "page.py", "udp_services.py", "web.py"],
    base_path="..",
    opt=3,
)
package("boards", files=["__init__.py"], base_path="..", opt=3)
