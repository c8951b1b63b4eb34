// weft's version, read once from package.json (dist/src -> package root).
import { readFileSync } from 'node:fs';

export const WEFT_VERSION: string = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
