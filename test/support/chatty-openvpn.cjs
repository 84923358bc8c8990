// A stand-in for an openvpn that logs as fast as it can, for ferry-helper's memory-bound
// test: real openvpn at Ferry's fixed `verb 3` is too quiet to flood anything. It reads
// the config the helper wrote (`--config PATH`), listens on its management socket as
// openvpn would, then writes log lines to stdout — honouring back-pressure, so what it
// has written is what the helper has read, give or take a pipe buffer — and records the
// running total in CHATTY_PROGRESS. It stops writing after CHATTY_BYTES and then idles.
'use strict';
const fs = require('node:fs');
const net = require('node:net');

const config = fs.readFileSync(process.argv[process.argv.indexOf('--config') + 1], 'utf8');
const socketPath = /^management "([^"]+)" unix$/m.exec(config)[1];
const limit = Number(process.env.CHATTY_BYTES);
const progress = process.env.CHATTY_PROGRESS;
const line = `${new Date().toISOString()} TLS: tls_multi_process: chatty line ${'x'.repeat(200)}\n`;
const chunk = line.repeat(256);

net.createServer(() => {}).listen(socketPath, () => {
  let written = 0;
  const pump = () => {
    while (written < limit) {
      written += chunk.length;
      if (written % (16 * chunk.length) === 0) fs.writeFileSync(progress, String(written));
      if (!process.stdout.write(chunk)) return void process.stdout.once('drain', pump);
    }
    fs.writeFileSync(progress, String(written));
  };
  pump();
});
process.on('SIGTERM', () => process.exit(0));
