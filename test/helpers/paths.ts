import path from 'node:path';
import { projectRoot } from '../../src/config/env.js';

export const ROOT = projectRoot();
export const CLI = path.join(ROOT, 'bin', 'hallmark.js');
export const DEFAULT_CONFIG = path.join(ROOT, 'ca-config', 'hallmark.yaml');
