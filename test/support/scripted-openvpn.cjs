#!/usr/bin/env node
// A stand-in for openvpn that `ferry-server run` starts (FERRY_OPENVPN). It
// serves the management socket named in --config like openvpn 2.6 would (SUCCESS/ERROR per
// command, `status 3`, `pid`), and a side socket (MANAGEMENT_SOCKET.ctl: the gateway starts
// openvpn with a bare environment) where a test sends lines to
// forward to the gateway verbatim (real-time messages) and reads back every command the
// gateway sent ("CMD ..."). A cid is gone once its DISCONNECT was forwarded: commands naming
// it fail, as openvpn's do.
'use strict';
const fs = require('node:fs');
const net = require('node:net');

const config = fs.readFileSync(process.argv[process.argv.indexOf('--config') + 1], 'utf8');
const socketPath = /^management "([^"]+)" unix$/m.exec(config)[1];
const gone = new Set();
const watchers = new Set();
let gateway;

const tell = (line) => { for (const w of watchers) w.write(`${line}\n`); };

net.createServer((socket) => {
  gateway = socket;
  let buffer = '';
  socket.setEncoding('utf8');
  socket.write(">INFO:OpenVPN Management Interface Version 5 -- type 'help' for more info\n>HOLD:Waiting for hold release:0\n");
  socket.on('data', (chunk) => {
    buffer += chunk;
    let nl;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const cmd = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      tell(`CMD ${cmd}`);
      const [verb, cid] = cmd.split(' ');
      if (verb === 'hold' ) socket.write('SUCCESS: hold release succeeded\n>STATE:1700000000,CONNECTED,SUCCESS,198.18.100.1,,,,\n');
      else if (verb === 'status') socket.write('TITLE\tfake\nHEADER\tCLIENT_LIST\tCommon Name\tReal Address\tVirtual Address\tClient ID\nEND\n');
      else if (verb === 'pid') socket.write(`SUCCESS: pid=${process.pid}\n`);
      else if (/^client-/.test(verb) && gone.has(cid)) socket.write(`ERROR: ${verb} command failed\n`);
      else socket.write(`SUCCESS: ${verb} ok\n`);
      if (cmd === 'signal SIGTERM') setImmediate(() => process.exit(0));
    }
  });
}).listen(socketPath);

net.createServer((side) => {
  watchers.add(side);
  side.on('close', () => watchers.delete(side));
  let buffer = '';
  side.setEncoding('utf8');
  side.on('data', (chunk) => {
    buffer += chunk;
    const i = buffer.lastIndexOf('\n');
    if (i < 0) return;
    const text = buffer.slice(0, i + 1);
    buffer = buffer.slice(i + 1);
    for (const m of text.matchAll(/^>CLIENT:DISCONNECT,(\d+)/gm)) gone.add(m[1]);
    gateway?.write(text); // one write: openvpn emits a block at once
  });
}).listen(`${socketPath}.ctl`);

process.on('SIGTERM', () => process.exit(0));
