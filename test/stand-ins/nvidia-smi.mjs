/**
 * nvidia-smi stand-in for tests: answers the real CLI's arguments from a real capture in
 * test/fixtures/nvidia-smi/ and fails the ways the real one fails. Plain JS so it starts fast.
 *
 * Fixture (env):
 *   NVIDIA_SMI_FIXTURE  absolute path: a multi-command capture (*.txt) or a `-q -x` document (*.xml)
 *   NVIDIA_SMI_XML      optional `-q -x` answer for a capture (default: derived from the capture's `-q` text)
 *   NVIDIA_SMI_PHASE    which capture rows to answer: load (default) | idle
 *   NVIDIA_SMI_ALL_APPS 1: --query-compute-apps also lists graphics (G) processes of an XML fixture
 * Answers:
 *   -q -x                     the XML verbatim (XML fixture) or derived from the capture's `-q` text
 *   --help-query-gpu          the capture's section, or for an XML fixture the fields derivable from it
 *   --query-gpu=… / --query-compute-apps=…  --format=csv[,noheader][,nounits]: requested fields in requested
 *                             order, derived from the capture's CSV with header and units (or from the XML);
 *                             an unknown field: `Field "x" is not a valid field to query.` on stdout, exit 2
 *   -lms N / -l N             repeat every N ms / s until killed
 * Failures (env):
 *   NVIDIA_SMI_DRIVER_FAIL=1  every query: the driver message on stdout, exit 9 (help still answers)
 *   NVIDIA_SMI_LOST_GPU=i     --query-gpu: GPU i's row is "Unable to determine the device handle for GPU …: Unknown Error"
 *   NVIDIA_SMI_HANG_AFTER=n   the target loop stops printing after n loops (stays alive)
 *   NVIDIA_SMI_DIE_AFTER=n    the target loop exits 1 after n loops
 *   NVIDIA_SMI_GARBAGE=1      the target loop prints two unreadable lines per loop
 *   NVIDIA_SMI_GARBAGE=only   the target loop prints only unreadable lines: bytes that are not UTF-8, control
 *                             characters, a row of the right width that names no GPU, one line of 64 KiB
 *   NVIDIA_SMI_TARGET         gpu (default) | apps | xml: which command the loop failures apply to
 *   NVIDIA_SMI_FAIL_SPAWNS=k  failures apply only to the first k invocations of each kind (needs NVIDIA_SMI_STATE)
 *   NVIDIA_SMI_STATE=file     counter files <file>.<kind>
 *   NVIDIA_SMI_LOG=file       append each invocation's arguments, one line each
 */
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';

const env = process.env;
const argv = process.argv.slice(2);
if (env.NVIDIA_SMI_LOG) appendFileSync(env.NVIDIA_SMI_LOG, `${argv.join(' ')}\n`);

const DRIVER_MESSAGE =
  "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. Make sure that the latest NVIDIA driver is installed and running.";

// ------------------------------------------------------------------ arguments

const args = { queryGpu: null, queryApps: null, format: '', loopMs: null, q: false, x: false, helpGpu: false, helpApps: false };
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  const val = (name) => (a.includes('=') ? a.slice(a.indexOf('=') + 1) : argv[++i]);
  if (a.startsWith('--query-gpu')) args.queryGpu = val();
  else if (a.startsWith('--query-compute-apps')) args.queryApps = val();
  else if (a.startsWith('--format')) args.format = val();
  else if (a === '-lms' || a.startsWith('--loop-ms')) args.loopMs = Number(val());
  else if (a === '-l' || a.startsWith('--loop=') || a === '--loop') args.loopMs = Number(val()) * 1000;
  else if (a === '-q' || a === '--query') args.q = true;
  else if (a === '-x' || a === '--xml-format') args.x = true;
  else if (a === '--help-query-gpu') args.helpGpu = true;
  else if (a === '--help-query-compute-apps') args.helpApps = true;
  else {
    process.stdout.write(`Invalid combination of input arguments. Please run 'nvidia-smi -h' for help.\n`);
    process.exit(2);
  }
}
const kind = args.queryGpu !== null ? 'gpu' : args.queryApps !== null ? 'apps' : args.q ? 'xml' : 'help';

/** Failures apply to the first NVIDIA_SMI_FAIL_SPAWNS invocations of this kind only, when set. */
function failing() {
  if (!env.NVIDIA_SMI_FAIL_SPAWNS) return true;
  const file = `${env.NVIDIA_SMI_STATE}.${kind}`;
  let n = 0;
  try {
    n = Number(readFileSync(file, 'utf8')) || 0;
  } catch {}
  writeFileSync(file, String(n + 1));
  return n < Number(env.NVIDIA_SMI_FAIL_SPAWNS);
}
const fail = kind !== 'help' ? failing() : false;
if (fail && env.NVIDIA_SMI_DRIVER_FAIL === '1') {
  process.stdout.write(`${DRIVER_MESSAGE}\n`);
  process.exit(9);
}

// ------------------------------------------------------------------ fixture

const fixturePath = env.NVIDIA_SMI_FIXTURE;
if (!fixturePath) {
  process.stderr.write('nvidia-smi stand-in: set NVIDIA_SMI_FIXTURE\n');
  process.exit(1);
}
const fixtureText = readFileSync(fixturePath, 'utf8');
const isXml = fixturePath.endsWith('.xml');
const phase = env.NVIDIA_SMI_PHASE ?? 'load';

/** Sections of a capture: `# <phase> :: <name>` banner, `# $ command`, a ### line, then the output up to the next ### line. */
function sections(text) {
  const lines = text.split('\n');
  const out = new Map();
  for (let i = 0; i < lines.length; i++) {
    const m = /^# (\S+) :: (.+)$/.exec(lines[i]);
    if (!m) continue;
    let j = i + 1;
    while (j < lines.length && !lines[j].startsWith('#####')) j++;
    const body = [];
    for (j++; j < lines.length && !lines[j].startsWith('#####'); j++) body.push(lines[j]);
    while (body.length && body[body.length - 1].trim() === '') body.pop();
    out.set(`${m[1]} :: ${m[2].replace(/ \(.*$/, '')}`, body.join('\n'));
    i = j - 1;
  }
  return out;
}

function helpFields(text) {
  const valid = new Set();
  const alias = new Map();
  for (const line of text.split('\n')) {
    if (!line.startsWith('"')) continue;
    const names = [...line.matchAll(/"([^"]+)"/g)].map((m) => m[1]);
    for (const n of names) {
      valid.add(n);
      alias.set(n, names);
    }
  }
  return { valid, alias };
}

/** CSV with header and units → [{ name, unit }], rows of cells. Extra cells (a name with ", ") join into process_name. */
function readCsv(text) {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  if (!lines.length) return { header: [], rows: [] };
  const header = lines[0].split(', ').map((h) => {
    const m = /^(.*?)(?: \[(.+)\])?\s*$/.exec(h);
    return { name: m[1].trim(), unit: m[2] ?? null };
  });
  const nameCol = header.findIndex((h) => h.name === 'process_name' || h.name === 'name');
  const rows = lines.slice(1).map((l) => {
    let cells = l.split(', ').map((c) => c.replace(/\s+$/, ''));
    if (cells.length > header.length && nameCol >= 0) {
      const extra = cells.length - header.length;
      cells = [...cells.slice(0, nameCol), cells.slice(nameCol, nameCol + extra + 1).join(', '), ...cells.slice(nameCol + extra + 1)];
    }
    return cells;
  });
  return { header, rows };
}

// ------------------------------------------------------------------ the data, from a capture or from XML

const NA_WORDS = /^(N\/A|Not Supported|Unknown Error|Insufficient Permissions|Requested functionality has been deprecated|Function Not Found)$/;

let help; // { valid, alias, text }
let gpuTable; // { header: [{name, unit}], rows }
let appsTable;
let xmlAnswer; // () => string

async function load() {
  if (isXml) {
    const { XMLParser } = await import('fast-xml-parser');
    const parser = new XMLParser({ ignoreAttributes: false, parseTagValue: false, isArray: (n) => n === 'gpu' || n === 'process_info' });
    const log = parser.parse(fixtureText).nvidia_smi_log;
    ({ help, gpuTable, appsTable } = fromXml(log));
    xmlAnswer = () => fixtureText;
  } else {
    const s = sections(fixtureText);
    const ht = s.get('capabilities :: help-query-gpu') ?? '';
    help = { ...helpFields(ht), text: ht };
    gpuTable = readCsv(s.get(`${phase} :: query-gpu`) ?? '');
    appsTable = readCsv(s.get(`${phase} :: query-compute-apps`) ?? '');
    xmlAnswer = () => (env.NVIDIA_SMI_XML ? readFileSync(env.NVIDIA_SMI_XML, 'utf8') : qTextToXml(s.get(`${phase} :: query`) ?? ''));
  }
}

function fromXml(log) {
  const gpus = log.gpu ?? [];
  const t = (v) => {
    if (v === undefined || v === null || typeof v === 'object') return undefined;
    return String(v).trim();
  };
  const get = (node, path) => t(path.split('/').reduce((n, p) => (n && typeof n === 'object' ? n[p] : undefined), node));
  const first = gpus[0] ?? {};
  const has = (path) => get(first, path) !== undefined;
  const eventEl = first.clocks_event_reasons ? 'event' : first.clocks_throttle_reasons ? 'throttle' : null;
  const sumOf = (g, paths) => {
    const vals = paths.map((p) => get(g, p)).filter((v) => v !== undefined && /^\d+$/.test(v));
    return vals.length ? String(vals.reduce((a, b) => a + Number(b), 0)) : 'N/A';
  };
  const ecc = (g, kind) => {
    const old = get(g, `ecc_errors/volatile/${kind === 'c' ? 'single_bit' : 'double_bit'}/total`);
    if (old !== undefined) return old;
    return kind === 'c'
      ? sumOf(g, ['ecc_errors/volatile/sram_correctable', 'ecc_errors/volatile/dram_correctable'])
      : sumOf(g, ['ecc_errors/volatile/sram_uncorrectable', 'ecc_errors/volatile/sram_uncorrectable_parity', 'ecc_errors/volatile/sram_uncorrectable_secded', 'ecc_errors/volatile/dram_uncorrectable']);
  };
  const power = (g, names) => {
    for (const n of names) for (const sec of ['power_readings', 'gpu_power_readings']) {
      const v = get(g, `${sec}/${n}`);
      if (v !== undefined) return v;
    }
    return 'N/A';
  };
  // field → [aliases], unit, getter; listed in the help only when the document has the element
  const F = [
    [['timestamp'], null, () => stamp(), true],
    [['driver_version'], null, () => t(log.driver_version), true],
    [['count'], null, () => String(gpus.length), true],
    [['name', 'gpu_name'], null, (g) => get(g, 'product_name'), true],
    [['serial', 'gpu_serial'], null, (g) => get(g, 'serial'), true],
    [['uuid', 'gpu_uuid'], null, (g) => get(g, 'uuid'), true],
    [['pci.bus_id', 'gpu_bus_id'], null, (g) => get(g, 'pci/pci_bus_id'), true],
    [['index'], null, (g, i) => String(i), true],
    [['fan.speed'], '%', (g) => get(g, 'fan_speed'), true],
    [['pstate'], null, (g) => get(g, 'performance_state'), true],
    [['memory.total'], 'MiB', (g) => get(g, 'fb_memory_usage/total'), true],
    [['memory.used'], 'MiB', (g) => get(g, 'fb_memory_usage/used'), true],
    [['memory.free'], 'MiB', (g) => get(g, 'fb_memory_usage/free'), true],
    [['utilization.gpu'], '%', (g) => get(g, 'utilization/gpu_util'), true],
    [['utilization.memory'], '%', (g) => get(g, 'utilization/memory_util'), true],
    [['temperature.gpu'], null, (g) => get(g, 'temperature/gpu_temp'), true],
    [['power.draw'], 'W', (g) => power(g, ['power_draw', 'average_power_draw', 'instant_power_draw']), true],
    [['power.draw.average', 'gpu.power.draw.average'], 'W', (g) => power(g, ['average_power_draw']), has('gpu_power_readings/average_power_draw')],
    [['power.draw.instant', 'gpu.power.draw.instant'], 'W', (g) => power(g, ['instant_power_draw']), has('gpu_power_readings/instant_power_draw')],
    [['power.limit'], 'W', (g) => power(g, ['power_limit', 'current_power_limit']), true],
    [['enforced.power.limit'], 'W', (g) => power(g, ['enforced_power_limit', 'current_power_limit']), true],
    [['clocks.current.sm', 'clocks.sm'], 'MHz', (g) => get(g, 'clocks/sm_clock'), true],
    [['clocks.current.memory', 'clocks.mem'], 'MHz', (g) => get(g, 'clocks/mem_clock'), true],
    [['mig.mode.current'], null, (g) => get(g, 'mig_mode/current_mig'), has('mig_mode/current_mig')],
    [['ecc.errors.corrected.volatile.total'], null, (g) => ecc(g, 'c'), true],
    [['ecc.errors.uncorrected.volatile.total'], null, (g) => ecc(g, 'u'), true],
  ];
  for (const r of ['gpu_idle', 'applications_clocks_setting', 'sw_power_cap', 'hw_slowdown', 'hw_thermal_slowdown', 'hw_power_brake_slowdown', 'sw_thermal_slowdown', 'sync_boost']) {
    const el = eventEl === 'event' ? `clocks_event_reasons/clocks_event_reason_${r}` : `clocks_throttle_reasons/clocks_throttle_reason_${r}`;
    // drivers since 530 know both spellings; older ones only clocks_throttle_reasons
    const names = eventEl === 'event' ? [`clocks_event_reasons.${r}`, `clocks_throttle_reasons.${r}`] : [`clocks_throttle_reasons.${r}`];
    F.push([names, null, (g) => get(g, el), eventEl !== null && has(el)]);
  }
  const known = F.filter((f) => f[3]);
  const text = ['List of valid properties to query for the switch "--query-gpu":', '']
    .concat(known.flatMap(([names]) => [names.map((n) => `"${n}"`).join(' or '), 'Derived from an nvidia-smi -q -x document by the test stand-in.', '']))
    .join('\n');
  const header = known.map(([names, unit]) => ({ name: names[0], unit }));
  const rows = gpus.map((g, i) => known.map(([, , fn]) => bracket(fn(g, i))));
  // compute apps: C and C+G processes (what the real --query-compute-apps lists)
  const appsHeader = [
    { name: 'timestamp', unit: null }, { name: 'gpu_name', unit: null }, { name: 'gpu_bus_id', unit: null },
    { name: 'gpu_serial', unit: null }, { name: 'gpu_uuid', unit: null }, { name: 'pid', unit: null },
    { name: 'process_name', unit: null }, { name: 'used_gpu_memory', unit: 'MiB' },
  ];
  const appsRows = [];
  for (const g of gpus) {
    for (const p of g.processes?.process_info ?? []) {
      const type = get(p, 'type');
      if (type === 'G' && env.NVIDIA_SMI_ALL_APPS !== '1') continue;
      appsRows.push([stamp(), get(g, 'product_name'), get(g, 'pci/pci_bus_id'), get(g, 'serial'), get(g, 'uuid'), get(p, 'pid'), get(p, 'process_name'), bracket(get(p, 'used_memory'))]);
    }
  }
  const valid = new Set(known.flatMap(([names]) => names));
  const alias = new Map(known.flatMap(([names]) => names.map((n) => [n, names])));
  return { help: { valid, alias, text }, gpuTable: { header, rows }, appsTable: { header: appsHeader, rows: appsRows } };
}

function bracket(v) {
  if (v === undefined || v === null || v === '') return '[N/A]';
  return NA_WORDS.test(v) ? `[${v}]` : v;
}

function stamp() {
  const d = new Date();
  const p = (n, w = 2) => String(n).padStart(w, '0');
  return `${d.getFullYear()}/${p(d.getMonth() + 1)}/${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

// ------------------------------------------------------------------ `-q` text → `-q -x` XML (captures only)

const IN = {
  mig_mode: { Current: 'current_mig', Pending: 'pending_mig' },
  utilization: { GPU: 'gpu_util', Memory: 'memory_util', Encoder: 'encoder_util', Decoder: 'decoder_util', JPEG: 'jpeg_util', OFA: 'ofa_util' },
  temperature: { 'GPU Current Temp': 'gpu_temp', 'Memory Current Temp': 'memory_temp' },
  pci: { 'Bus Id': 'pci_bus_id', Bus: 'pci_bus', Device: 'pci_device', Domain: 'pci_domain', 'Device Id': 'pci_device_id' },
  clocks: { Graphics: 'graphics_clock', SM: 'sm_clock', Memory: 'mem_clock', Video: 'video_clock' },
  max_clocks: { Graphics: 'graphics_clock', SM: 'sm_clock', Memory: 'mem_clock', Video: 'video_clock' },
  processes: { 'GPU instance ID': 'gpu_instance_id', 'Compute instance ID': 'compute_instance_id', 'Process ID': 'pid' },
  process_info: { Type: 'type', Name: 'process_name', 'Used GPU Memory': 'used_memory' },
};
const REASONS = {
  Idle: 'gpu_idle', 'Applications Clocks Setting': 'applications_clocks_setting', 'SW Power Cap': 'sw_power_cap',
  'HW Slowdown': 'hw_slowdown', 'HW Thermal Slowdown': 'hw_thermal_slowdown', 'HW Power Brake Slowdown': 'hw_power_brake_slowdown',
  'Sync Boost': 'sync_boost', 'SW Thermal Slowdown': 'sw_thermal_slowdown', 'Display Clock Setting': 'display_clocks_setting',
};
const TOP = {
  'Product Name': 'product_name', 'GPU UUID': 'uuid', 'Serial Number': 'serial', 'Minor Number': 'minor_number',
  'Fan Speed': 'fan_speed', 'Performance State': 'performance_state', 'FB Memory Usage': 'fb_memory_usage',
  'Shared FB Memory Usage': 'fb_memory_usage', 'BAR1 Memory Usage': 'bar1_memory_usage', 'Shared BAR1 Memory': 'bar1_memory_usage',
  'ECC Errors': 'ecc_errors', 'Clocks Event Reasons': 'clocks_event_reasons', 'Clocks Throttle Reasons': 'clocks_throttle_reasons',
  'Instantaneous Power Draw': 'instant_power_draw', 'Multiprocessor count': 'multiprocessor_count',
};
const snake = (s) => s.toLowerCase().replace(/-/g, '').replace(/[^a-z0-9]+/g, '_').replace(/^_|_$/g, '');
const esc = (s) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function qTextToXml(text) {
  // indentation tree of "Label : value" / "Label" lines
  const root = { children: [], indent: -1 };
  const stack = [root];
  for (const raw of text.split('\n')) {
    if (!raw.trim() || raw.startsWith('=')) continue;
    const indent = raw.length - raw.trimStart().length;
    const m = /^(.*?)\s+:\s?(.*)$/.exec(raw.trim());
    const node = m ? { label: m[1].trim(), value: m[2].trim(), children: [], indent } : { label: raw.trim(), value: null, children: [], indent };
    while (stack[stack.length - 1].indent >= indent) stack.pop();
    stack[stack.length - 1].children.push(node);
    stack.push(node);
  }
  const out = ['<?xml version="1.0" ?>', '<!-- derived from `nvidia-smi -q` text by the test stand-in -->', '<nvidia_smi_log>'];
  for (const n of root.children) {
    const gm = /^GPU ([0-9A-Fa-f:.]+)$/.exec(n.label);
    if (gm) {
      out.push(`<gpu id="${gm[1]}">`);
      emitGpu(n.children, out);
      out.push('</gpu>');
    } else if (n.value !== null) {
      out.push(`<${snake(n.label)}>${esc(n.value)}</${snake(n.label)}>`);
    }
  }
  out.push('</nvidia_smi_log>');
  return `${out.join('\n')}\n`;
}

function emitGpu(children, out) {
  const mig = children.filter((c) => c.label === 'MIG Device');
  for (const c of children) {
    if (c.label === 'MIG Device') {
      if (c === mig[0]) {
        out.push('<mig_devices>');
        for (const d of mig) {
          out.push('<mig_device>');
          emit(d.children, 'mig_device', out);
          out.push('</mig_device>');
        }
        out.push('</mig_devices>');
      }
    } else if (c.label === 'Processes') {
      out.push('<processes>');
      let open = false;
      for (const p of c.children) {
        if (p.label === 'GPU instance ID' || (p.label === 'Process ID' && !open)) {
          if (open) out.push('</process_info>');
          out.push('<process_info>');
          open = true;
        }
        out.push(`<${IN.processes[p.label] ?? snake(p.label)}>${esc(p.value ?? '')}</${IN.processes[p.label] ?? snake(p.label)}>`);
        if (p.label === 'Process ID') emit(p.children, 'process_info', out);
      }
      if (open) out.push('</process_info>');
      out.push('</processes>');
    } else {
      emit([c], 'gpu', out);
    }
  }
}

function emit(nodes, parent, out) {
  for (const n of nodes) {
    let el = IN[parent]?.[n.label] ?? TOP[n.label] ?? snake(n.label);
    if (parent === 'clocks_event_reasons' || parent === 'clocks_throttle_reasons') {
      el = `${parent.slice(0, -1)}_${REASONS[n.label] ?? snake(n.label)}`;
    }
    if (n.value !== null) {
      out.push(`<${el}>${esc(n.value)}</${el}>`);
      // "HW Slowdown : Not Active" has the thermal / power brake reasons nested under it: siblings in XML
      emit(n.children, parent, out);
    } else {
      out.push(`<${el}>`);
      emit(n.children, el, out);
      out.push(`</${el}>`);
    }
  }
}

// ------------------------------------------------------------------ answering

function answerCsv(table, requested, fmt) {
  const noheader = fmt.includes('noheader');
  const nounits = fmt.includes('nounits');
  const names = requested.split(',').map((s) => s.trim()).filter(Boolean);
  for (const n of names) {
    if (kind === 'gpu' && !help.valid.has(n)) {
      process.stdout.write(`Field "${n}" is not a valid field to query.\n\n`);
      process.exit(2);
    }
  }
  const aliasesOf = (n) => (kind === 'gpu' ? (help.alias.get(n) ?? [n]) : APP_ALIASES[n] ?? [n]);
  const cols = names.map((n) => {
    const all = aliasesOf(n);
    return table.header.findIndex((h) => all.includes(h.name));
  });
  if (kind === 'apps') {
    const bad = names.find((n, i) => cols[i] < 0 && !APP_ALIASES[n]);
    if (bad) {
      process.stdout.write(`Field "${bad}" is not a valid field to query.\n\n`);
      process.exit(2);
    }
  }
  const lines = [];
  if (!noheader) lines.push(names.map((n, i) => (cols[i] >= 0 && table.header[cols[i]].unit ? `${n} [${table.header[cols[i]].unit}]` : n)).join(', '));
  for (const row of table.rows) {
    lines.push(
      names
        .map((n, i) => {
          if (n === 'timestamp') return stamp();
          if (cols[i] < 0) return '[N/A]';
          let v = row[cols[i]] ?? '';
          const unit = table.header[cols[i]].unit;
          if (nounits && unit && v.endsWith(` ${unit}`)) v = v.slice(0, -unit.length - 1);
          return v;
        })
        .join(', '),
    );
  }
  return lines;
}

const APP_ALIASES = {
  timestamp: ['timestamp'], gpu_name: ['gpu_name'], gpu_bus_id: ['gpu_bus_id'], gpu_serial: ['gpu_serial'], gpu_uuid: ['gpu_uuid'],
  pid: ['pid'], process_name: ['process_name', 'name'], name: ['process_name', 'name'],
  used_gpu_memory: ['used_gpu_memory', 'used_memory'], used_memory: ['used_gpu_memory', 'used_memory'],
};

function loop(produce) {
  const target = env.NVIDIA_SMI_TARGET ?? 'gpu';
  const mine = fail && target === kind;
  const hangAfter = mine && env.NVIDIA_SMI_HANG_AFTER ? Number(env.NVIDIA_SMI_HANG_AFTER) : Infinity;
  const dieAfter = mine && env.NVIDIA_SMI_DIE_AFTER ? Number(env.NVIDIA_SMI_DIE_AFTER) : Infinity;
  const garbage = mine && env.NVIDIA_SMI_GARBAGE === '1';
  const onlyGarbage = mine && env.NVIDIA_SMI_GARBAGE === 'only';
  let n = 0;
  // a loop that prints nothing (no compute process) never finds its reader gone, as the real one would not: the
  // stand-in ends when the process that started it has (a server or agent killed with -9), so tests leave none behind
  const parent = globalThis.nvidiaSmiParent ?? process.ppid;
  const once = () => {
    if (process.ppid !== parent) process.exit(0);
    if (n >= dieAfter) {
      process.stderr.write(`nvidia-smi stand-in: exiting after ${n} loops (NVIDIA_SMI_DIE_AFTER)\n`);
      process.exit(1);
    }
    if (n >= hangAfter) return; // hung: alive, silent
    n++;
    const lines = produce();
    if (onlyGarbage) {
      const width = (lines[0] ?? 'x, y').split(', ').length;
      const text = [Array(width).fill('-1').join(', '), '\u0000\u0007\u001b[2J', 'Z'.repeat(64 * 1024)].join('\n');
      process.stdout.write(Buffer.concat([Buffer.from([0xc3, 0x28, 0xff, 0xfe, 0x80, 0x0a]), Buffer.from(`${text}\n`)]));
      return;
    }
    if (garbage) {
      const half = (lines[0] ?? 'x, y').slice(0, Math.floor((lines[0] ?? 'x, y').length / 2));
      lines.unshift('\u0000\u0007 ### garbled output ###', half);
    }
    if (lines.length) process.stdout.write(`${lines.join('\n')}\n`);
  };
  once();
  if (args.loopMs) setInterval(once, args.loopMs);
}

await load();
if (args.helpGpu) {
  process.stdout.write(`${help.text}\n`);
} else if (args.helpApps) {
  process.stdout.write('List of valid properties to query for the switch "--query-compute-apps":\n\n"gpu_uuid"\n"pid"\n"process_name" or "name"\n"used_gpu_memory" or "used_memory"\n');
} else if (kind === 'gpu') {
  const lost = env.NVIDIA_SMI_LOST_GPU !== undefined && fail ? Number(env.NVIDIA_SMI_LOST_GPU) : -1;
  loop(() => {
    const lines = answerCsv(gpuTable, args.queryGpu, args.format);
    const first = args.format.includes('noheader') ? 0 : 1;
    if (lost >= 0 && lines[first + lost] !== undefined) {
      const bus = String(gpuTable.rows[lost][gpuTable.header.findIndex((h) => h.name === 'pci.bus_id')] ?? '00000000:00:00.0').replace(/^0000(?=[0-9A-Fa-f]{4}:)/, '');
      lines[first + lost] = `Unable to determine the device handle for GPU ${bus}: Unknown Error`;
    }
    return lines;
  });
} else if (kind === 'apps') {
  loop(() => answerCsv(appsTable, args.queryApps, args.format));
} else if (args.q && args.x) {
  if (fail && (env.NVIDIA_SMI_TARGET ?? 'gpu') === 'xml' && env.NVIDIA_SMI_HANG_AFTER) setInterval(() => {}, 1 << 30);
  else process.stdout.write(xmlAnswer());
} else {
  process.stdout.write(`Invalid combination of input arguments. Please run 'nvidia-smi -h' for help.\n`);
  process.exit(2);
}
