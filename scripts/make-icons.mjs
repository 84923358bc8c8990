// Draws Ferry's icons as PNG files: the app icon (a boat on a wave, on a rounded blue
// square) and the four tray icons (disconnected, connecting, connected, error), each at
// 16×16 and 32×32 (@2x). Pure Node (zlib for PNG), shapes as signed distance functions
// with 4×4 supersampling, so the output is the same bytes on every machine:
//   node scripts/make-icons.mjs      (writes assets/; commit the PNGs)
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { deflateSync } from 'node:zlib';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const ASSETS = path.join(ROOT, 'assets');

// ---- PNG -------------------------------------------------------------------------------

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(buf) {
  let c = 0xffffffff;
  for (const byte of buf) c = CRC_TABLE[(c ^ byte) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type, data) {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'ascii');
  data.copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

/** RGBA pixels (Uint8Array, width*height*4) → PNG bytes. */
function encodePng(width, height, rgba) {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bit depth
  header[9] = 6; // RGBA
  const raw = Buffer.alloc((width * 4 + 1) * height);
  for (let y = 0; y < height; y++) {
    raw[y * (width * 4 + 1)] = 0; // filter: none
    Buffer.from(rgba.buffer, y * width * 4, width * 4).copy(raw, y * (width * 4 + 1) + 1);
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(raw, { level: 9 })),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

// ---- drawing ---------------------------------------------------------------------------

/**
 * Renders layers onto a transparent canvas. Each layer: { color: [r,g,b,a], inside(x,y) }
 * in unit coordinates (0..1 across the icon); coverage by 4×4 samples per pixel.
 */
function render(size, layers) {
  const px = new Uint8Array(size * size * 4);
  const S = 4;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      let r = 0, g = 0, b = 0, a = 0; // premultiplied
      for (const layer of layers) {
        let hits = 0;
        for (let sy = 0; sy < S; sy++) {
          for (let sx = 0; sx < S; sx++) {
            if (layer.inside((x + (sx + 0.5) / S) / size, (y + (sy + 0.5) / S) / size)) hits++;
          }
        }
        if (hits === 0) continue;
        const la = (layer.color[3] / 255) * (hits / (S * S));
        r = layer.color[0] * la + r * (1 - la);
        g = layer.color[1] * la + g * (1 - la);
        b = layer.color[2] * la + b * (1 - la);
        a = la + a * (1 - la);
      }
      const i = (y * size + x) * 4;
      px[i] = a > 0 ? Math.round(r / a) : 0;
      px[i + 1] = a > 0 ? Math.round(g / a) : 0;
      px[i + 2] = a > 0 ? Math.round(b / a) : 0;
      px[i + 3] = Math.round(a * 255);
    }
  }
  return encodePng(size, size, px);
}

const circle = (cx, cy, r) => (x, y) => (x - cx) ** 2 + (y - cy) ** 2 <= r * r;
const ring = (cx, cy, r, w) => (x, y) => {
  const d = Math.sqrt((x - cx) ** 2 + (y - cy) ** 2);
  return d <= r && d >= r - w;
};
const roundRect = (x0, y0, x1, y1, rad) => (x, y) => {
  const qx = Math.max(x0 + rad - x, 0, x - (x1 - rad));
  const qy = Math.max(y0 + rad - y, 0, y - (y1 - rad));
  return x >= x0 && x <= x1 && y >= y0 && y <= y1 && qx * qx + qy * qy <= rad * rad;
};
/** A band following a sine wave: the water. */
const wave = (yMid, amp, periods, thick, x0 = 0, x1 = 1) => (x, y) =>
  x >= x0 && x <= x1 && Math.abs(y - (yMid + amp * Math.sin((x - x0) * periods * 2 * Math.PI))) <= thick / 2;
const polygon = (points) => (x, y) => {
  let inside = false;
  for (let i = 0, j = points.length - 1; i < points.length; j = i++) {
    const [xi, yi] = points[i];
    const [xj, yj] = points[j];
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
};
const and = (...fs) => (x, y) => fs.every((f) => f(x, y));

const WHITE = [255, 255, 255, 255];

function appIcon(size) {
  const blueTop = [37, 99, 235, 255];
  const blueBottom = [29, 78, 216, 255];
  return render(size, [
    { color: blueBottom, inside: roundRect(0.04, 0.04, 0.96, 0.96, 0.2) },
    { color: blueTop, inside: and(roundRect(0.04, 0.04, 0.96, 0.96, 0.2), (_x, y) => y < 0.55) },
    // The ferry: hull, cabin, funnel.
    { color: WHITE, inside: polygon([[0.2, 0.52], [0.8, 0.52], [0.7, 0.66], [0.3, 0.66]]) },
    { color: WHITE, inside: roundRect(0.34, 0.38, 0.62, 0.5, 0.02) },
    { color: WHITE, inside: roundRect(0.52, 0.28, 0.58, 0.37, 0.01) },
    { color: blueTop, inside: and(roundRect(0.38, 0.41, 0.58, 0.46, 0.005), (x) => Math.floor((x - 0.38) / 0.05) % 2 === 0) },
    // The water.
    { color: [191, 219, 254, 255], inside: wave(0.74, 0.025, 2.5, 0.05, 0.14, 0.86) },
  ]);
}

const STATE_COLORS = {
  disconnected: [107, 114, 128, 255],
  connecting: [217, 119, 6, 255],
  connected: [22, 163, 74, 255],
  error: [220, 38, 38, 255],
};

/**
 * Tray icons: the app's boat in a disc of the state's colour. The states differ in shape
 * too, not only in colour: disconnected is hollow, connecting shows "…" (on its way),
 * error an exclamation mark.
 */
function trayIcon(state, size) {
  const color = STATE_COLORS[state];
  const small = size <= 16;
  const disc = circle(0.5, 0.5, 0.47);
  const boat = [
    polygon([[0.2, 0.52], [0.8, 0.52], [0.68, 0.72], [0.32, 0.72]]),
    roundRect(0.36, small ? 0.3 : 0.33, 0.62, 0.5, 0.03),
  ];
  const layers = [];
  if (state === 'disconnected') {
    layers.push({ color, inside: ring(0.5, 0.5, 0.47, small ? 0.13 : 0.1) });
    for (const part of boat) layers.push({ color, inside: part });
  } else if (state === 'error') {
    layers.push({ color, inside: disc });
    layers.push({ color: WHITE, inside: roundRect(0.42, 0.18, 0.58, 0.6, 0.04) });
    layers.push({ color: WHITE, inside: circle(0.5, 0.76, 0.09) });
  } else if (state === 'connecting') {
    layers.push({ color, inside: disc });
    for (const cx of [0.27, 0.5, 0.73]) layers.push({ color: WHITE, inside: circle(cx, 0.5, small ? 0.1 : 0.085) });
  } else {
    layers.push({ color, inside: disc });
    for (const part of boat) layers.push({ color: WHITE, inside: part });
  }
  return render(size, layers);
}

// ---- output ----------------------------------------------------------------------------

function write(rel, data) {
  const file = path.join(ASSETS, rel);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, data);
  console.log(`${rel}  ${data.length} bytes`);
}

write('icon.png', appIcon(512));
for (const size of [16, 32, 48, 64, 128, 256, 512]) write(`icons/${size}x${size}.png`, appIcon(size));
for (const state of Object.keys(STATE_COLORS)) {
  write(`tray/${state}.png`, trayIcon(state, 16));
  write(`tray/${state}@2x.png`, trayIcon(state, 32));
}
