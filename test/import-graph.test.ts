import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { cruise } from 'dependency-cruiser';

/**
 * The shape of the code, checked so that it stays: no import cycles between files or between the
 * folders of src/ (each folder is a layer that may use the ones below it), the database reached only
 * through src/store, and the store opened only by the composition root (src/app/context.ts).
 */

const repo = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..');
const src = path.join(repo, 'src');

/** Strongly connected components of more than one node (Tarjan): the cycles of a graph. */
function cycles(edges: Map<string, Set<string>>): string[][] {
  let index = 0;
  const indexOf = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string) => {
    indexOf.set(v, index);
    low.set(v, index++);
    stack.push(v);
    onStack.add(v);
    for (const w of edges.get(v) ?? []) {
      if (!indexOf.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, indexOf.get(w)!));
    }
    if (low.get(v) === indexOf.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1) found.push(component.sort());
    }
  };
  for (const v of edges.keys()) if (!indexOf.has(v)) visit(v);
  return found;
}

const folderOf = (file: string) => file.split('/')[0]!;

function addEdge(edges: Map<string, Set<string>>, from: string, to: string): void {
  if (from === to) return;
  if (!edges.has(from)) edges.set(from, new Set());
  if (!edges.has(to)) edges.set(to, new Set());
  edges.get(from)!.add(to);
}

test('dependency-cruiser: no import cycle between the compiled modules, nor between their folders', async () => {
  const result = await cruise([path.join(repo, 'dist', 'src')], {
    validate: true,
    ruleSet: { forbidden: [{ name: 'no-circular', severity: 'error', from: {}, to: { circular: true } }] },
    doNotFollow: { path: 'node_modules' },
    moduleSystems: ['es6'],
  });
  const output = typeof result.output === 'string' ? JSON.parse(result.output) : result.output;
  assert.ok(output.summary.totalCruised > 100, `cruised only ${output.summary.totalCruised} modules: is dist/ built?`);
  assert.deepEqual(
    output.summary.violations.map((v: { from: string; to: string }) => `${v.from} → ${v.to}`),
    [],
    'file-level import cycles',
  );
  const edges = new Map<string, Set<string>>();
  const local = (name: string) => name.replace(/\\/g, '/').split('dist/src/')[1];
  for (const module of output.modules as { source: string; dependencies: { resolved: string }[] }[]) {
    const from = local(module.source);
    if (!from) continue;
    for (const dependency of module.dependencies) {
      const to = local(dependency.resolved);
      if (to) addEdge(edges, folderOf(from), folderOf(to));
    }
  }
  assert.ok(edges.size > 10, 'the folders were read');
  assert.deepEqual(cycles(edges), [], 'folder-level cycles among runtime imports');
});

/** Every .ts file under a folder, relative to src/. */
function sources(dir = src): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) return sources(full);
    return e.name.endsWith('.ts') ? [path.relative(src, full).replace(/\\/g, '/')] : [];
  });
}

/** The relative imports and re-exports of a file (type-only ones too: they couple the code as much). */
function importsOf(file: string): string[] {
  const text = fs.readFileSync(path.join(src, file), 'utf8');
  const found: string[] = [];
  for (const m of text.matchAll(/^\s*(?:import|export)\b[^;]*?\bfrom\s+'(\.{1,2}\/[^']+)'/gms)) {
    found.push(path.posix.normalize(path.posix.join(path.posix.dirname(file), m[1]!.replace(/\.js$/, '.ts'))));
  }
  return found;
}

test('the sources, type imports included, have no folder cycle; SQL stays in src/store; only the composition root opens the store', () => {
  const files = sources();
  assert.ok(files.length > 100);
  const edges = new Map<string, Set<string>>();
  for (const file of files) for (const target of importsOf(file)) addEdge(edges, folderOf(file), folderOf(target));
  assert.deepEqual(cycles(edges), [], 'folder-level cycles in the sources');

  const outsideStore = files.filter((f) => !f.startsWith('store/'));
  const text = (f: string) => fs.readFileSync(path.join(src, f), 'utf8');
  assert.deepEqual(outsideStore.filter((f) => /from '[./]+(store\/)?db\.js'/.test(text(f)) && importsOf(f).includes('store/db.ts')), ['app/context.ts'], 'store/db is opened by the composition root alone');
  assert.deepEqual(outsideStore.filter((f) => /from 'knex'|\bKnex\b|isPostgres/.test(text(f))), [], 'knex and dialect tests live in src/store only');
});
