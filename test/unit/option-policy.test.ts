/**
 * The option table against openvpn 2.6's own manual (vendored in test/fixtures/openvpn-man,
 * see its README for the tag): every option the manual defines has exactly one row, each
 * row says where it comes from truthfully, every kept option is either written as given
 * (with its bounds) or read by the importer, and the generated docs are current.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { INTERPRETED_OPTIONS } from '../../core/profile/ovpn.js';
import { OPTION_POLICY, OPTION_ROWS } from '../../core/profile/option-policy.js';
import { OPTION_DOCS, renderOptionDocs } from '../../scripts/option-docs.js';

const MAN = path.join(import.meta.dirname, '..', 'fixtures', 'openvpn-man');

/** option name → the manual pages defining it (a line starting `--name`, as the man page's definition lists do). */
async function manualOptions(): Promise<Map<string, string[]>> {
  const defined = new Map<string, string[]>();
  for (const file of (await readdir(MAN)).filter((f) => f.endsWith('.rst')).sort()) {
    const text = await readFile(path.join(MAN, file), 'utf8');
    for (const m of text.matchAll(/^--([a-z0-9][a-z0-9-]*)/gm)) {
      const pages = defined.get(m[1]!) ?? [];
      if (!pages.includes(file)) defined.set(m[1]!, [...pages, file]);
    }
  }
  return defined;
}

describe('the option table covers openvpn 2.6\'s manual', () => {
  it('has exactly one row for every option the manual defines', async () => {
    const manual = await manualOptions();
    expect(manual.size).toBeGreaterThan(280); // 288 in v2.6.14: a parsing slip would show here
    const names = OPTION_ROWS.map((r) => r.name);
    expect(names.filter((n, i) => names.indexOf(n) !== i), 'options with two rows').toEqual([]);
    expect([...manual.keys()].filter((n) => !OPTION_POLICY.has(n)), 'manual options without a row').toEqual([]);
  });

  it('names, for each row, a manual page that defines it, or says it is not in the manual', async () => {
    const manual = await manualOptions();
    for (const row of OPTION_ROWS) {
      if (row.source === 'options.c' || row.source === 'Changes.rst') {
        expect(manual.has(row.name), `${row.name} is in the manual after all`).toBe(false);
      } else {
        expect(manual.get(row.name) ?? [], row.name).toContain(`${row.source}.rst`);
      }
    }
  });

  it('has a row for every option the manual allows as an inline block', async () => {
    const text = await readFile(path.join(MAN, 'inline-files.rst'), 'utf8');
    const inline = [...text.slice(0, text.indexOf('Each inline file')).matchAll(/``--([a-z0-9-]+)``/g)].map((m) => m[1]!);
    expect(inline.length).toBeGreaterThan(10);
    expect(inline.filter((n) => !OPTION_POLICY.has(n))).toEqual([]);
  });

  it('gives every row a one-line reason, and every refused row a reason a person can act on', () => {
    for (const row of OPTION_ROWS) {
      expect(row.reason.length, row.name).toBeGreaterThan(10);
      expect(row.reason, row.name).not.toMatch(/[\n\r]/);
      if (row.disposition !== 'kept') expect(row.args, `${row.name} is not kept, so it has no arguments to check`).toBeUndefined();
    }
  });

  it('writes every kept option as given, or reads it in the importer — never neither, never both', () => {
    const interpreted = new Set(INTERPRETED_OPTIONS);
    for (const row of OPTION_ROWS.filter((r) => r.disposition === 'kept')) {
      expect(Boolean(row.args) || interpreted.has(row.name), `${row.name}: kept, but nothing writes or reads it`).toBe(true);
    }
    for (const name of interpreted) expect(OPTION_POLICY.has(name), `${name} is read by the importer but has no row`).toBe(true);
  });
});

describe('docs/openvpn-options.md', () => {
  it('is what scripts/option-docs.ts generates from the table (run `npx tsx scripts/option-docs.ts`)', async () => {
    expect(await readFile(OPTION_DOCS, 'utf8')).toBe(renderOptionDocs());
  });

  it('lists every option once', async () => {
    const rows = (await readFile(OPTION_DOCS, 'utf8')).split('\n').filter((l) => l.startsWith('| `'));
    expect(rows).toHaveLength(OPTION_ROWS.length);
  });
});
