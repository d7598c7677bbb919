# Simulated hardware for the simulator boards: a machine.SPI / machine.Pin
# look-alike (machine.py), the wire on a TAP fd (wire.py) and register-level
# models of the ENC28J60 and the W5500 (enc28j60.py, w5500.py).
