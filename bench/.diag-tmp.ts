import { BenchLab, INIT_LINE } from './lab-setup.js';
const bench = await BenchLab.create();
try {
  const gw = await bench.gateway('tcp');
  for (let i = 0; i < 3; i++) {
    const p = bench.rawOpenvpn(gw);
    await p.waitFor(INIT_LINE);
    await p.stop();
    await bench.tunnelDown();
    if (i === 2) for (const l of p.lines) console.log((l.at - p.startedAt).toFixed(0).padStart(5), l.line.slice(0, 150));
  }
} finally { await bench.cleanup(); }
