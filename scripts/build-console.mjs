// Assembles the console's static files into dist/console (run by `npm run build`, hence at install):
// the page, its stylesheet and Chart.js from node_modules — nothing is fetched from a CDN.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const out = path.join(root, 'dist', 'console');
fs.mkdirSync(path.join(out, 'vendor'), { recursive: true });
for (const file of ['index.html', 'app.css']) fs.copyFileSync(path.join(root, 'console', file), path.join(out, file));
fs.copyFileSync(path.join(root, 'node_modules', 'chart.js', 'dist', 'chart.umd.min.js'), path.join(out, 'vendor', 'chart.umd.min.js'));
