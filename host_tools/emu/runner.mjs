// The emulated RP2040 board (host_tools/emu.py starts it; docs/emulator.md).
//
//   node runner.mjs --firmware F.bin --files T.bin --root REPO
//        [--chip w5500|enc28j60 --spi N --cs G --int G --rst G --wire-fd FD]
//        [--ctl-fd FD]
//
// rp2040js runs the stack port's firmware without the boot ROM: the image is
// loaded at the start of flash, the file table 1 MB further on, VTOR/SP/PC are
// set from the image's vector table. UART0 is this process's stdin/stdout
// (bytes, paced by the RX FIFO). A chip model (the project's Python model, run
// in the 32-bit MicroPython WebAssembly package) answers on the SPI bus byte
// for byte, sees CS and RST edges on their GPIOs and drives the INT GPIO; its
// wire is the launcher's framed stream on --wire-fd (2-byte big-endian length,
// then the frame). --ctl-fd takes lines "cycles" (answered "CYCLES <core
// cycles> <emulated us>") and "counters" (answered "COUNTERS <model counters>").
//
// Emulated time never runs ahead of wall-clock time: when the core waits
// (WFI) for a timer alarm that lies in the future, the runner sleeps until
// then; when the core is busy it lags (the emulator is slower than a chip).
// Errors: one line "emu: ..." on stderr and exit status 3 (firmware stopped
// at a breakpoint: HardFault, fatal error), 4 (chip protocol violation with
// --strict), 2 (bad arguments or files).
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { RP2040, GPIOPinState } from "rp2040js";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const FLASH_FILES_OFFSET = 0x100000;
const RXFF = 1 << 6;

function parseArgs(argv) {
  const o = {};
  for (let i = 0; i < argv.length; i += 2) {
    if (!argv[i].startsWith("--")) fail(2, "bad argument " + argv[i]);
    o[argv[i].slice(2)] = argv[i + 1];
  }
  return o;
}

function fail(code, msg) {
  process.stderr.write("emu: " + msg + "\n");
  process.exit(code);
}

const opts = parseArgs(process.argv.slice(2));
if (!opts.firmware || !opts.files || !opts.root) fail(2, "need --firmware, --files and --root");

let image, files;
try {
  image = fs.readFileSync(opts.firmware);
  files = fs.readFileSync(opts.files);
} catch (e) {
  fail(2, "cannot read the firmware or file table: " + e.message);
}

const mcu = new RP2040();
mcu.flash.set(image, 0);
mcu.flash.set(files, FLASH_FILES_OFFSET);
const view = new DataView(image.buffer, image.byteOffset, image.byteLength);
mcu.core.VTOR = 0x10000000;
mcu.core.SP = view.getUint32(0, true);
mcu.core.PC = view.getUint32(4, true) & ~1;

let stopped = false;
mcu.onBreak = (code) => {
  stopped = true;
  flushUart();
  fail(3, `the firmware stopped at a breakpoint (code ${code}) after ${mcu.core.cycles} cycles: ` +
    "see its last console lines above");
};

// -- UART0 <-> stdio ---------------------------------------------------------------
let uartOut = [];
function flushUart() {
  if (uartOut.length) {
    process.stdout.write(Buffer.from(uartOut));
    uartOut = [];
  }
}
mcu.uart[0].onByte = (b) => {
  uartOut.push(b);
  if (uartOut.length >= 4096) flushUart();
};
const uartIn = [];
process.stdin.on("data", (d) => {
  for (const b of d) uartIn.push(b);
  wake();
});
process.stdin.on("end", () => {});
function feedUart() {
  const u = mcu.uart[0];
  while (uartIn.length && !(u.flags & RXFF)) u.feedByte(uartIn.shift());
}

// -- the chip on the SPI bus --------------------------------------------------------
let bus = null;
let spiBytes = 0;
let wireSock = null;
let strict = opts.strict === "1";
const pendingFrames = [];

async function setupChip() {
  const { loadMicroPython } = await import("@micropython/micropython-webassembly-pyscript");
  const mp = await loadMicroPython({
    heapsize: 8 * 1024 * 1024,
    stdout: (s) => process.stderr.write("emu[model]: " + s + "\n"),
    stderr: (s) => process.stderr.write("emu[model]: " + s + "\n"),
  });
  // the model's sources, as files in the WebAssembly VM's own file system
  const want = ["boards/__init__.py", "boards/sim/__init__.py", "boards/sim/chip.py",
    "boards/sim/memwire.py", "boards/sim/w5500.py", "boards/sim/enc28j60.py",
    "stack/__init__.py"];
  for (const d of ["/repo", "/repo/boards", "/repo/boards/sim", "/repo/stack", "/emu"]) mp.FS.mkdir(d);
  for (const f of want) mp.FS.writeFile("/repo/" + f, fs.readFileSync(path.join(opts.root, f)));
  mp.FS.writeFile("/emu/chipbus.py", fs.readFileSync(path.join(HERE, "chipbus.py")));
  // the models' copy/fill helper without viper (see mem_wasm.py)
  mp.FS.writeFile("/repo/boards/sim/mem.py", fs.readFileSync(path.join(HERE, "mem_wasm.py")));
  mp.runPython("import sys\nsys.path.append('/repo')\nsys.path.append('/emu')\n");
  const chipbus = mp.pyimport("chipbus");
  bus = chipbus.ChipBus(opts.chip);

  const spiIndex = Number(opts.spi);
  const spi = mcu.spi[spiIndex];
  spi.onTransmit = (v) => {
    spiBytes++;
    if (!bus.checked) bus.check_bus(Math.round(spi.clockFrequency), (spi.control0 >> 6) & 1, (spi.control0 >> 7) & 1);
    spi.completeTransmit(bus.byte(v));
  };
  const cs = mcu.gpio[Number(opts.cs)];
  cs.addListener((state) => {
    if (state === GPIOPinState.Low) bus.cs(0);
    else if (state === GPIOPinState.High) {
      bus.cs(1);
      afterTransaction();
    }
  });
  if (opts.rst !== undefined) {
    mcu.gpio[Number(opts.rst)].addListener((state) => {
      if (state === GPIOPinState.Low) bus.rst(0);
      else if (state === GPIOPinState.High) bus.rst(1);
    });
  }
  updateInt();

  if (opts["wire-fd"] !== undefined) {
    wireSock = new net.Socket({ fd: Number(opts["wire-fd"]), readable: true, writable: true });
    let acc = Buffer.alloc(0);
    wireSock.on("data", (d) => {
      acc = acc.length ? Buffer.concat([acc, d]) : d;
      while (acc.length >= 2) {
        const n = acc.readUInt16BE(0);
        if (acc.length < 2 + n) break;
        pendingFrames.push(acc.subarray(2, 2 + n).toString("hex"));
        acc = acc.subarray(2 + n);
      }
      wake();
    });
    wireSock.on("error", (e) => fail(2, "wire: " + e.message));
    wireSock.on("end", () => process.exit(0));  // the launcher went away
  }
}

function afterTransaction() {
  const out = bus.take_hex();
  if (out) {
    for (const hex of out.split(",")) {
      const f = Buffer.from(hex, "hex");
      const h = Buffer.alloc(2);
      h.writeUInt16BE(f.length, 0);
      if (wireSock) wireSock.write(Buffer.concat([h, f]));
    }
  }
  const err = bus.take_errors();
  if (err) {
    for (const line of err.split("\n")) process.stderr.write("emu: chip protocol: " + line + "\n");
    if (strict) {
      flushUart();
      fail(4, "the driver broke the chip's protocol (see above)");
    }
  }
  updateInt();
}

let intPin = null;
function updateInt() {
  if (opts.int === undefined) return;
  if (intPin === null) intPin = mcu.gpio[Number(opts.int)];
  intPin.setInputValue(bus.int_level() !== 0);
}

function deliverFrames() {
  if (!pendingFrames.length || !bus) return;
  while (pendingFrames.length) bus.put_hex(pendingFrames.shift());
  updateInt();
}

// -- control lines -------------------------------------------------------------------
if (opts["ctl-fd"] !== undefined) {
  const ctl = new net.Socket({ fd: Number(opts["ctl-fd"]), readable: true, writable: true });
  let buf = "";
  ctl.on("data", (d) => {
    buf += d.toString();
    let i;
    while ((i = buf.indexOf("\n")) >= 0) {
      const line = buf.slice(0, i).trim();
      buf = buf.slice(i + 1);
      if (line === "cycles") {
        ctl.write(`CYCLES ${mcu.core.cycles} ${Math.floor(mcu.clock.micros)}\n`);
      } else if (line === "counters") {
        ctl.write(`COUNTERS spi_bytes=${spiBytes}${bus ? "," + bus.counters() : ""}\n`);
      } else {
        ctl.write(`ERROR unknown command ${line}\n`);
      }
    }
  });
  ctl.on("error", () => {});
}

// -- the execution loop -------------------------------------------------------------
const wallStart = process.hrtime.bigint();
function wallNanos() {
  return Number(process.hrtime.bigint() - wallStart);
}

let timer = null;
function wake() {
  if (timer !== null) {
    clearTimeout(timer);
    timer = null;
    setImmediate(run);
  }
}

function run() {
  timer = null;
  if (stopped) return;
  const { core, clock } = mcu;
  const sliceEnd = performance.now() + 25;
  feedUart();
  deliverFrames();
  for (;;) {
    for (let i = 0; i < 20000; i++) {
      if (core.waiting) {
        const toAlarm = clock.nanosToNextAlarm;
        const lead = wallNanos() - clock.nanos;  // how far emulated time may still go
        if (toAlarm > 0 && toAlarm <= lead) {
          clock.tick(toAlarm);
          continue;
        }
        // nothing due before wall-clock time catches up: sleep until then
        flushUart();
        const ms = toAlarm > 0 ? Math.max(1, Math.ceil((toAlarm - lead) / 1e6)) : 20;
        if (lead > 0 && toAlarm > 0) clock.tick(Math.min(lead, toAlarm - 1));
        timer = setTimeout(run, ms);
        return;
      }
      const cycles = core.executeInstruction();
      clock.tick(cycles * 8);  // 8 ns per cycle at 125 MHz
      if (stopped) return;
    }
    feedUart();
    deliverFrames();
    if (performance.now() > sliceEnd) break;
  }
  flushUart();
  timer = setTimeout(run, 0);
}

process.on("SIGTERM", () => process.exit(0));
process.on("SIGINT", () => process.exit(0));

if (opts.chip && opts.chip !== "none") {
  try {
    await setupChip();
  } catch (e) {
    fail(2, "cannot start the chip model: " + (e.message || e));
  }
}
run();
