import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';

export const REPO_ROOT = resolve(__dirname, '../..');

/** A parsed YAML mapping, loosely typed: tests check the shape they rely on. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Doc = Record<string, any>;

/** docker-compose.yml with YAML merge keys (`<<:`) resolved, as Compose does. */
export function readCompose(): Doc {
  return parse(readFileSync(join(REPO_ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as Doc;
}

/** Every document of every deploy/*.yaml, each tagged with its file; throws on a YAML error. */
export function readDeployDocs(): Array<{ file: string; doc: Doc }> {
  const dir = join(REPO_ROOT, 'deploy');
  const out: Array<{ file: string; doc: Doc }> = [];
  for (const file of readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort()) {
    for (const d of parseAllDocuments(readFileSync(join(dir, file), 'utf8'))) {
      if (d.errors.length > 0) throw new Error(`${file}: ${d.errors.map((e) => e.message).join('; ')}`);
      const doc = d.toJS() as Doc | null;
      if (doc) out.push({ file, doc });
    }
  }
  return out;
}

/** The one document of a kind (and name, when given) among the deploy files. */
export function findDoc(docs: ReadonlyArray<{ doc: Doc }>, kind: string, name?: string): Doc {
  const found = docs.filter(({ doc }) => doc.kind === kind && (name === undefined || doc.metadata?.name === name));
  if (found.length !== 1) throw new Error(`expected one ${kind}${name ? ` named ${name}` : ''} in deploy/, found ${found.length}`);
  return found[0]!.doc;
}
